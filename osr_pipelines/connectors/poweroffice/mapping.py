"""PowerOffice Go v2 JSON (PascalCase, bare arrays) to canonical rows.

Kept apart from the client so that the per-transaction loop stays a tight,
testable function: it is where a full-history import spends its CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from osr_pipelines.connectors.base import Batch, Row, account_type
from osr_pipelines.connectors.http import gc_paused, json_decoder

#: The ``AccountTransactionDto`` fields a canonical posting needs; sent as ``Fields`` to shrink pages.
TRANSACTION_FIELDS = ("Id,VoucherNo,PostingDate,AccountNo,Amount,CurrencyCode,CurrencyAmount,Description,"
                      "DepartmentId,ProjectId,ContactId,CustomerAccountNo,SupplierAccountNo,"
                      "Dim1Code,Dim2Code,Dim3Code,LastChangedDateTimeOffset")

#: ``GeneralLedgerAccountType`` values on the balance sheet; Income and Expense are result accounts.
BALANCE_TYPES = frozenset({"Asset", "Liability", "Equity"})


class Transaction(msgspec.Struct, gc=False):
    """An ``AccountTransactionDto`` as selected with :data:`TRANSACTION_FIELDS`; other keys are ignored."""

    Id: int
    VoucherNo: int
    PostingDate: str
    AccountNo: int
    Amount: float
    CurrencyAmount: float = 0.0
    CurrencyCode: str | None = None
    Description: str | None = None
    DepartmentId: int | None = None
    ProjectId: int | None = None
    ContactId: int | None = None
    CustomerAccountNo: int | None = None
    SupplierAccountNo: int | None = None
    Dim1Code: str | None = None
    Dim2Code: str | None = None
    Dim3Code: str | None = None
    LastChangedDateTimeOffset: str | None = None


#: Decode an ``/AccountTransactions`` page into Structs.
decode_transactions = json_decoder(list[Transaction])


@functools.lru_cache(maxsize=65_536)
def utc(stamp: str) -> str:
    """``2024-03-01T12:00:00+01:00`` as naive UTC ``2024-03-01T11:00:00``, the warehouse's convention.

    Cached: the transactions of one voucher share their change time.
    """
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat()


def map_transactions(values: list[Transaction], currency: str | None = None) -> Batch:
    """Map typed transactions to posting rows.

    ``PostingDate`` (the date of accounting effect, which ``fromDate``/``toDate``
    filter on) is the canonical voucher date. The sub-ledger contact
    (``ContactId``, the id of the customer or supplier) fills the customer or
    supplier column, whichever sub-ledger account the line is posted to.
    ``CurrencyCode`` is nullable; a line without one is in ``currency``, the
    company's own, since ``Amount`` always is.
    """
    with gc_paused():
        return _map(values, currency)


def _map(values: list[Transaction], currency: str | None) -> Batch:
    rows: Batch = []
    append = rows.append
    last = None
    period = 0
    for t in values:
        day = t.PostingDate
        if day != last:
            last = day
            period = int(day[:4]) * 100 + int(day[5:7])
        department, project, contact, changed = t.DepartmentId, t.ProjectId, t.ContactId, t.LastChangedDateTimeOffset
        append((
            str(t.Id),
            str(t.VoucherNo),
            day,
            period,
            str(t.AccountNo),
            round(t.Amount, 2),
            t.CurrencyCode or currency,
            round(t.CurrencyAmount, 2),
            t.Description,
            None if department is None else str(department),
            None if project is None else str(project),
            None if contact is None or t.CustomerAccountNo is None else str(contact),
            None if contact is None or t.SupplierAccountNo is None else str(contact),
            t.Dim1Code,
            t.Dim2Code,
            t.Dim3Code,
            None if changed is None else utc(changed),
        ))
    return rows


def map_account(a: dict) -> Row:
    # GeneralLedgerAccountDto has no account group: the column stays empty.
    kind = account_type(a.get("GeneralLedgerAccountType"), BALANCE_TYPES, a["AccountNo"])
    return (str(a["Id"]), str(a["AccountNo"]), a.get("Name"), kind, None)


def map_department(d: dict) -> Row:
    return (str(d["Id"]), d.get("Code") or str(d["Id"]), d.get("Name"))


def map_project(p: dict) -> Row:
    return (str(p["Id"]), p.get("Code") or str(p["Id"]), p.get("Name"))


def map_contact(c: dict) -> Row:
    """Customers and suppliers: ``Number`` is the sub-ledger number users know them by.

    A contact that is a person (``IsPerson``) has ``Name`` null and its name in
    ``FirstName`` and ``LastName``.
    """
    number = c.get("Number")
    name = c.get("Name") or " ".join(part for part in (c.get("FirstName"), c.get("LastName")) if part) or None
    return (str(c["Id"]), str(number) if number is not None else str(c["Id"]), name,
            c.get("OrganizationNumber") or None)


#: Canonical dimension -> (path, mapper). Every one of them takes ``lastChangedDateTimeOffsetGreaterThan``.
DIMENSION_SOURCES: dict[str, tuple[str, Callable[[dict], Row]]] = {
    "accounts": ("/GeneralLedgerAccounts", map_account),
    "departments": ("/Departments", map_department),
    "projects": ("/Projects", map_project),
    "customers": ("/Customers", map_contact),
    "suppliers": ("/Suppliers", map_contact),
}
