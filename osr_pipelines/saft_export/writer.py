"""Writing SAF-T Financial 1.30, streaming: master files first, then journal lines as they come.

Element order, mandatory elements and text lengths follow the 1.30 XSD
(``schemas/``); :func:`~osr_pipelines.saft_export.validate.problems` checks the
result against it before a file is handed over.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import IO

from lxml import etree

from osr_pipelines.connectors.saft.facts import NAMESPACE

#: ``SAFlongtextType`` holds at most 256 characters; longer descriptions are cut there.
LONG_TEXT = 256
ZERO = Decimal("0.00")
QNAME = "{" + NAMESPACE + "}"


@dataclass(frozen=True)
class Header:
    registration_number: str
    name: str
    currency: str
    start: date
    end: date
    created: date
    software_version: str


@dataclass(frozen=True)
class AccountEntry:
    """An account with its signed (debit positive) opening and closing balance."""

    account: str
    description: str
    grouping_category: str
    grouping_code: str
    opening: Decimal
    closing: Decimal


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    registration_number: str | None = None


@dataclass(frozen=True)
class AnalysisEntry:
    kind: str
    kind_description: str
    id: str
    description: str


@dataclass(frozen=True)
class LineEntry:
    account: str
    description: str
    amount: Decimal  # debit positive
    currency: str | None = None  # set when the line is in another currency than the company's
    amount_currency: Decimal | None = None
    analysis: tuple[tuple[str, str], ...] = ()
    customer: str | None = None
    supplier: str | None = None


@dataclass(frozen=True)
class TransactionEntry:
    transaction_id: str
    day: date
    period: int  # YYYYMM
    description: str
    lines: list[LineEntry] = field(default_factory=list)


@dataclass(frozen=True)
class Totals:
    """``GeneralLedgerEntries`` states these before its journals, so they are known before lines are written."""

    transactions: int
    debit: Decimal
    credit: Decimal


def _cut(value: str | None, fallback: str = "-") -> str:
    value = (value or "").strip() or fallback
    return value[:LONG_TEXT]


def _money(value: Decimal) -> str:
    return f"{value.quantize(ZERO)}"


class _Writer:
    def __init__(self, xf: etree.xmlfile) -> None:
        self.xf = xf

    def leaf(self, tag: str, value: str) -> None:
        """An element holding text, on a line of its own so that a validator's line numbers point at it."""
        with self.xf.element(QNAME + tag):
            self.xf.write(value)
        self.xf.write("\n")

    def node(self, tag: str) -> etree._FileWriterElement:
        return self.xf.element(QNAME + tag)

    def balance(self, kind: str, value: Decimal) -> None:
        side = "Debit" if value >= 0 else "Credit"
        self.leaf(f"{kind}{side}Balance", _money(abs(value)))


def write_saft(out: IO[bytes], header: Header, accounts: Iterable[AccountEntry], customers: Iterable[Party],
               suppliers: Iterable[Party], analysis: Iterable[AnalysisEntry], totals: Totals,
               transactions: Iterable[TransactionEntry], journal: tuple[str, str] = ("GL", "General ledger")) -> None:
    """One SAF-T Financial 1.30 file, with its journal lines written as ``transactions`` yields them."""
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(QNAME + "AuditFile", nsmap={None: NAMESPACE}):
            w = _Writer(xf)
            _header(w, header)
            with w.node("MasterFiles"):
                _accounts(w, accounts)
                _parties(w, "Customers", "Customer", "CustomerID", customers)
                _parties(w, "Suppliers", "Supplier", "SupplierID", suppliers)
                entries = list(analysis)
                if entries:
                    with w.node("AnalysisTypeTable"):
                        for entry in entries:
                            with w.node("AnalysisTypeTableEntry"):
                                w.leaf("AnalysisType", entry.kind)
                                w.leaf("AnalysisTypeDescription", _cut(entry.kind_description))
                                w.leaf("AnalysisID", entry.id)
                                w.leaf("AnalysisIDDescription", _cut(entry.description))
            with w.node("GeneralLedgerEntries"):
                w.leaf("NumberOfEntries", str(totals.transactions))
                w.leaf("TotalDebit", _money(totals.debit))
                w.leaf("TotalCredit", _money(totals.credit))
                with w.node("Journal"):
                    w.leaf("JournalID", journal[0])
                    w.leaf("Description", journal[1])
                    w.leaf("Type", journal[0])
                    for tx in transactions:
                        _transaction(w, tx)


def _header(w: _Writer, h: Header) -> None:
    with w.node("Header"):
        w.leaf("AuditFileVersion", "1.30")
        w.leaf("AuditFileCountry", "NO")
        w.leaf("AuditFileDateCreated", h.created.isoformat())
        w.leaf("SoftwareCompanyName", "osr-pipelines")
        w.leaf("SoftwareID", "osr-pipelines")
        w.leaf("SoftwareVersion", h.software_version[:18])
        with w.node("Company"):
            w.leaf("RegistrationNumber", h.registration_number)
            w.leaf("Name", _cut(h.name))
            # The schema requires a contact person; the warehouse knows none (see docs/connectors/saf-t.md).
            with w.node("Contact"), w.node("ContactPerson"):
                w.leaf("FirstName", "NA")
                w.leaf("LastName", "NA")
        w.leaf("DefaultCurrencyCode", h.currency)
        with w.node("SelectionCriteria"):
            w.leaf("SelectionStartDate", h.start.isoformat())
            w.leaf("SelectionEndDate", h.end.isoformat())
        w.leaf("TaxAccountingBasis", "A")


def _accounts(w: _Writer, accounts: Iterable[AccountEntry]) -> None:
    entries = list(accounts)
    if not entries:
        return
    with w.node("GeneralLedgerAccounts"):
        for a in entries:
            with w.node("Account"):
                w.leaf("AccountID", a.account)
                w.leaf("AccountDescription", _cut(a.description, a.account))
                w.leaf("GroupingCategory", a.grouping_category)
                w.leaf("GroupingCode", a.grouping_code)
                w.leaf("AccountType", "GL")
                w.balance("Opening", a.opening)
                w.balance("Closing", a.closing)


def _parties(w: _Writer, outer: str, inner: str, id_tag: str, parties: Iterable[Party]) -> None:
    entries = list(parties)
    if not entries:
        return
    with w.node(outer):
        for p in entries:
            with w.node(inner):
                if p.registration_number:
                    w.leaf("RegistrationNumber", p.registration_number)
                w.leaf("Name", _cut(p.name, p.id))
                w.leaf(id_tag, p.id)


def _transaction(w: _Writer, tx: TransactionEntry) -> None:
    year, month = divmod(tx.period, 100)
    day = tx.day.isoformat()
    with w.node("Transaction"):
        w.leaf("TransactionID", tx.transaction_id)
        w.leaf("Period", str(month))
        w.leaf("PeriodYear", str(year))
        w.leaf("TransactionDate", day)
        w.leaf("Description", _cut(tx.description, tx.transaction_id))
        w.leaf("SystemEntryDate", day)
        w.leaf("GLPostingDate", day)
        for number, line in enumerate(tx.lines, 1):
            with w.node("Line"):
                w.leaf("RecordID", str(number))
                w.leaf("AccountID", line.account)
                for kind, value in line.analysis:
                    with w.node("Analysis"):
                        w.leaf("AnalysisType", kind)
                        w.leaf("AnalysisID", value)
                if line.customer:
                    w.leaf("CustomerID", line.customer)
                if line.supplier:
                    w.leaf("SupplierID", line.supplier)
                w.leaf("Description", _cut(line.description, tx.transaction_id))
                with w.node("DebitAmount" if line.amount >= 0 else "CreditAmount"):
                    w.leaf("Amount", _money(abs(line.amount)))
                    if line.currency and line.amount_currency is not None:
                        w.leaf("CurrencyCode", line.currency)
                        w.leaf("CurrencyAmount", _money(abs(line.amount_currency)))
