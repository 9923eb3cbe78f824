"""A SAF-T file's content as canonical rows: master files as dimensions, journal lines as postings.

One pass over a file maps both: master-file records are kept (a company's
chart, customers, suppliers and analysis values are small), journal lines are
yielded as posting rows as their transaction ends and are never kept.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from osr_pipelines.connectors.base import Row, account_type
from osr_pipelines.connectors.saft.reader import NS, FileHeader, SaftFileError, events, text

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
#: The voucher number of the rows that hold a file's opening balances (see ``opening_rows``).
OPENING_VOUCHER = "OPENING-BALANCE"
#: Journal-line ids are ``journal/transaction/record``; longer ones (the column holds 64) are hashed.
MAX_ID = 64

#: Qualified names of the fields read from ``fields()`` dicts.
_F = {name: NS + name for name in (
    "TransactionID", "TransactionDate", "Period", "PeriodYear", "Description", "CustomerID", "SupplierID",
    "AccountID", "Amount", "CurrencyAmount", "CurrencyCode", "AnalysisType", "AnalysisID", "RecordID")}
_TAGS = {name: NS + name for name in (
    "Account", "Customer", "Supplier", "AnalysisTypeTableEntry", "Transaction", "Journal", "MasterFiles",
    "GeneralLedgerAccounts", "Line", "DebitAmount", "CreditAmount", "Analysis")}


@dataclass(frozen=True)
class AccountRecord:
    """One ``GeneralLedgerAccounts/Account``: signed (debit positive) opening and stated closing balances."""

    account: str
    name: str
    standard_account: str | None
    grouping_category: str | None
    grouping_code: str | None
    opening: Decimal
    closing: Decimal | None


@dataclass
class FileContent:
    """A file's master data and what its lines add up to, gathered while its lines stream past."""

    accounts: list[AccountRecord] = field(default_factory=list)
    customers: list[Row] = field(default_factory=list)
    suppliers: list[Row] = field(default_factory=list)
    #: analysis type -> (description of the type, {id: description})
    analysis: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    #: account -> sum of every line of the file (debit positive)
    line_totals: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    lines: int = 0


def _amount(header: FileHeader, el: etree._Element, tag: str) -> Decimal | None:
    return _decimal(header, el, tag, text(el, tag))


def _decimal(header: FileHeader, el: etree._Element | None, tag: str, value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value).quantize(CENT)
    except InvalidOperation:
        raise SaftFileError(header.path, f"line {el.sourceline}: {tag} must be an amount, not {value!r}") from None


def _balance(header: FileHeader, el: etree._Element, kind: str) -> Decimal | None:
    debit, credit = _amount(header, el, f"{kind}DebitBalance"), _amount(header, el, f"{kind}CreditBalance")
    if debit is None and credit is None:
        return None
    return (debit or ZERO) - (credit or ZERO)


def _account(header: FileHeader, el: etree._Element) -> AccountRecord:
    number = text(el, "AccountID")
    if number is None:
        raise SaftFileError(header.path, f"line {el.sourceline}: an Account has no AccountID")
    return AccountRecord(number, text(el, "AccountDescription") or "", text(el, "StandardAccountID"),
                         text(el, "GroupingCategory"), text(el, "GroupingCode"),
                         _balance(header, el, "Opening") or ZERO, _balance(header, el, "Closing"))


def _party(header: FileHeader, el: etree._Element, id_tag: str) -> Row:
    code = text(el, id_tag)
    if code is None:
        raise SaftFileError(header.path, f"line {el.sourceline}: a {el.tag[len(NS):]} has no {id_tag}")
    return (code, code, text(el, "Name") or "", text(el, "RegistrationNumber"))


def _posting_id(journal: str, transaction: str, record: str) -> str:
    posting_id = f"{journal}/{transaction}/{record}"
    if len(posting_id) > MAX_ID:
        posting_id = "h:" + hashlib.sha256(posting_id.encode()).hexdigest()[:40]
    return posting_id


class LineMapper:
    """Journal lines to posting rows, with the connection's choice of department and project types."""

    def __init__(self, header: FileHeader, department_type: str, project_type: str) -> None:
        self.header = header
        self.department_type, self.project_type = department_type, project_type

    def transaction(self, journal: str, tx: etree._Element) -> Iterator[tuple[int, Row]]:
        """``(period, row)`` for each line of the transaction; ``period`` is ``YYYYMM``.

        Each element's children are read in one pass into a dict (``fields``):
        a ``findtext`` per field scans the children again for every field, and
        was most of the time a file took.
        """
        path = self.header.path
        head = fields(tx)
        tid = head.get(_F["TransactionID"])
        if tid is None:
            raise SaftFileError(path, f"line {tx.sourceline}: a Transaction has no TransactionID")
        when = head.get(_F["TransactionDate"]) or ""
        try:
            day = date.fromisoformat(when[:10])
        except ValueError:
            raise SaftFileError(path, f"line {tx.sourceline}: transaction {tid}: TransactionDate must be a date "
                                      f"(YYYY-MM-DD), not {when!r}") from None
        period_text, year_text = head.get(_F["Period"]), head.get(_F["PeriodYear"])
        if period_text and year_text and period_text.isdigit() and year_text.isdigit() \
                and 1 <= int(period_text) <= 12:
            period = int(year_text) * 100 + int(period_text)
        else:  # periods beyond 12 (year-end adjustments) count in the month of their date
            period = day.year * 100 + day.month
        description = head.get(_F["Description"])
        tx_customer, tx_supplier = head.get(_F["CustomerID"]), head.get(_F["SupplierID"])
        iso = day.isoformat()
        department_type, project_type = self.department_type, self.project_type
        for number, line in enumerate(tx.iterchildren(_TAGS["Line"]), 1):
            values = fields(line)
            account = values.get(_F["AccountID"])
            side, sign = line.find(_TAGS["DebitAmount"]), 1
            if side is None:
                side, sign = line.find(_TAGS["CreditAmount"]), -1
            money = fields(side) if side is not None else {}
            amount = _decimal(self.header, side, "Amount", money.get(_F["Amount"]))
            if account is None or amount is None:
                raise SaftFileError(path, f"line {line.sourceline}: transaction {tid}: a Line needs an AccountID "
                                          "and a DebitAmount or CreditAmount with its Amount")
            currency_amount = _decimal(self.header, side, "CurrencyAmount", money.get(_F["CurrencyAmount"]))
            department = project = None
            free: list[str | None] = []
            for analysis in line.iterchildren(_TAGS["Analysis"]):
                kind = fields(analysis)
                kind, value = kind.get(_F["AnalysisType"]), kind.get(_F["AnalysisID"])
                if kind == department_type and department is None:
                    department = value
                elif kind == project_type and project is None:
                    project = value
                elif kind and value:
                    free.append(f"{kind}:{value}")
            free += [None] * 3
            signed = amount if sign > 0 else -amount
            yield period, (
                _posting_id(journal, tid, values.get(_F["RecordID"]) or str(number)),
                tid, iso, period, account, float(signed),
                money.get(_F["CurrencyCode"]) or self.header.currency,
                float(signed if currency_amount is None else sign * currency_amount),
                values.get(_F["Description"]) or description,
                department, project,
                values.get(_F["CustomerID"]) or tx_customer, values.get(_F["SupplierID"]) or tx_supplier,
                free[0], free[1], free[2], None,
            )


def fields(el: etree._Element) -> dict[str, str]:
    """Tag -> stripped text of ``el``'s children that hold text (the first of a tag wins; empty ones are absent)."""
    out: dict[str, str] = {}
    for child in el:
        value = child.text
        if value is not None and child.tag not in out:
            value = value.strip()
            if value:
                out[child.tag] = value
    return out


def walk(header: FileHeader, content: FileContent, mapper: LineMapper,
         keep: Callable[[int], bool]) -> Iterator[Row]:
    """Every journal line of the file as a posting row (those whose period ``keep`` accepts), while
    ``content`` gathers the master files and every line's total; each element is freed once mapped."""
    t = _TAGS
    wanted = (t["Account"], t["Customer"], t["Supplier"], t["AnalysisTypeTableEntry"], t["Transaction"],
              t["Journal"], t["MasterFiles"])
    journal, journal_el = "", None
    with events(header.path, tag=wanted) as stream:
        for _, el in stream:
            tag = el.tag
            if tag == t["Transaction"]:
                parent = el.getparent()
                if parent is not journal_el:  # read before the journal's first transaction is dropped
                    journal, journal_el = (text(parent, "JournalID") or "") if parent is not None else "", parent
                for period, row in mapper.transaction(journal, el):
                    content.lines += 1
                    content.line_totals[row[4]] += Decimal(str(row[5]))
                    if keep(period):
                        yield row
            elif tag == t["Account"]:
                if el.getparent().tag != t["GeneralLedgerAccounts"]:
                    continue
                content.accounts.append(_account(header, el))
            elif tag == t["Customer"]:
                content.customers.append(_party(header, el, "CustomerID"))
            elif tag == t["Supplier"]:
                content.suppliers.append(_party(header, el, "SupplierID"))
            elif tag == t["AnalysisTypeTableEntry"]:
                kind, value = text(el, "AnalysisType"), text(el, "AnalysisID")
                if kind and value:
                    _described, values = content.analysis.setdefault(kind, (text(el, "AnalysisTypeDescription")
                                                                           or kind, {}))
                    values[value] = text(el, "AnalysisIDDescription") or value
            el.clear(keep_tail=False)
            if tag in (t["Transaction"], t["Journal"]):
                while el.getprevious() is not None:
                    del el.getparent()[0]


def account_rows(accounts: list[AccountRecord]) -> list[Row]:
    """``accounts`` dimension rows: the NS 4102 number range decides balance or income, as for every ERP.

    SAF-T's ``AccountType`` says only ``GL``; where the account number is not a number, its standard
    account's (a two- or four-digit NS 4102 code) decides. The standard account and grouping code are
    kept in ``account_group`` as ``standard:<id>`` and ``<category>:<code>``.
    """
    rows = []
    for a in accounts:
        digits = a.account if a.account.isdigit() else (a.standard_account or "9")
        number = int(digits.ljust(4, "0")[:4]) if digits.isdigit() else 9999
        group = " ".join(filter(None, (
            f"standard:{a.standard_account}" if a.standard_account else None,
            f"{a.grouping_category}:{a.grouping_code}" if a.grouping_category and a.grouping_code else None)))
        rows.append((a.account, a.account, a.name, account_type(None, (), number), group or None))
    return rows
