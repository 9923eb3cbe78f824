"""Tripletex JSON objects to canonical rows.

Kept apart from the client so that the per-posting loop stays a tight,
testable function: it is where a full-history import spends its CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from osr_pipelines.connectors.base import Batch, Row, account_type
from osr_pipelines.connectors.http import gc_paused, json_decoder

#: One pass of ``/ledger/posting`` brings everything a canonical posting needs.
POSTING_FIELDS = ("id,date,description,amount,amountCurrency,account(number),voucher(number,year),"
                  "currency(code),department(id),project(id),customer(id),supplier(id),changes(timestamp)")

#: Tripletex account types on the balance sheet; every other type is a result (income statement) account.
BALANCE_TYPES = frozenset({"ASSETS", "EQUITY", "LIABILITIES"})

#: The ``balanceGroup`` Tripletex answers for an account in no balance group ("not in a balance group").
NO_BALANCE_GROUP = "Ikke i en saldogruppe."


class _Number(msgspec.Struct, gc=False):
    number: int


class _Ref(msgspec.Struct, gc=False):
    id: int


class _Voucher(msgspec.Struct, gc=False):
    number: int
    year: int


class _Currency(msgspec.Struct, gc=False):
    code: str


class _Change(msgspec.Struct, gc=False):
    timestamp: str


class Posting(msgspec.Struct, gc=False):
    """A ``Posting`` as selected with :data:`POSTING_FIELDS`; other keys are ignored."""

    id: int
    date: str
    amount: float
    amountCurrency: float
    account: _Number
    voucher: _Voucher
    currency: _Currency
    description: str | None = None
    department: _Ref | None = None
    project: _Ref | None = None
    customer: _Ref | None = None
    supplier: _Ref | None = None
    changes: list[_Change] | None = None


class PostingPage(msgspec.Struct):
    """``ListResponsePosting``: the fields the connector reads."""

    values: list[Posting]
    #: "[DEPRECATED]" and "not exact" in the spec: reported as the ERP's own count, never used to page
    fullResultSize: int | None = None


#: Decode a ``/ledger/posting`` page into Structs.
decode_postings = json_decoder(PostingPage)


def map_postings(values: list[Posting]) -> Batch:
    """Map the typed ``Posting`` objects of :func:`decode_postings`.

    Tripletex numbers vouchers per year, so the canonical voucher number
    prefixes the voucher's own ``year``: voucher 17 of 2024 becomes
    ``"2024000017"``, even when a posting of it is dated in another year
    (the posting's date would file it under another voucher). ``period`` is
    the calendar month of the posting's date. The loop avoids per-row helper
    calls and works out the period once per run of equal dates: it is the hot path.
    """
    with gc_paused():
        return _map_postings(values)


def _map_postings(values: list[Posting]) -> Batch:
    rows: Batch = []
    append = rows.append
    last = None
    period = 0
    for p in values:
        day = p.date
        if day != last:
            last = day
            period = int(day[:4]) * 100 + int(day[5:7])
        department, project, customer, supplier, changes = p.department, p.project, p.customer, p.supplier, p.changes
        if changes:
            changed = changes[0].timestamp if len(changes) == 1 else max(c.timestamp for c in changes)
        else:
            changed = None
        voucher = p.voucher
        append((
            str(p.id),
            str(voucher.year * 1_000_000 + voucher.number),
            day,
            period,
            str(p.account.number),
            round(p.amount, 2),
            p.currency.code,
            round(p.amountCurrency, 2),
            p.description,
            None if department is None else str(department.id),
            None if project is None else str(project.id),
            None if customer is None else str(customer.id),
            None if supplier is None else str(supplier.id),
            None,
            None,
            None,
            changed,
        ))
    return rows


def map_account(a: dict) -> Row:
    """Ungrouped accounts carry :data:`NO_BALANCE_GROUP` as their group; they get none."""
    group = a.get("balanceGroup")
    kind = account_type(a.get("type"), BALANCE_TYPES, a["number"])
    return (str(a["id"]), str(a["number"]), a.get("name"), kind,
            None if not group or group == NO_BALANCE_GROUP else group)


def map_department(d: dict) -> Row:
    return (str(d["id"]), d.get("departmentNumber") or str(d["id"]), d.get("name"))


def map_project(p: dict) -> Row:
    return (str(p["id"]), p.get("number") or str(p["id"]), p.get("name"))


def map_customer(c: dict) -> Row:
    number = c.get("customerNumber")
    return (str(c["id"]), str(number) if number is not None else str(c["id"]), c.get("name"),
            c.get("organizationNumber") or None)


def map_supplier(s: dict) -> Row:
    number = s.get("supplierNumber")
    return (str(s["id"]), str(number) if number is not None else str(s["id"]), s.get("name"),
            s.get("organizationNumber") or None)


@dataclass(frozen=True)
class DimensionSource:
    """Where a canonical dimension is read: ``filters`` are the passes to make, one request series each."""

    path: str
    fields: str
    mapper: Callable[[dict], Row]
    filters: tuple[dict[str, str], ...] = ({},)


#: ``/customer`` and ``/supplier`` default to ``isInactive=false``: inactive ones, which old
#: postings still name, come only when asked for.
BOTH_STATES = ({"isInactive": "false"}, {"isInactive": "true"})

DIMENSION_SOURCES: dict[str, DimensionSource] = {
    "accounts": DimensionSource("/ledger/account", "id,number,name,type,balanceGroup", map_account),
    "departments": DimensionSource("/department", "id,departmentNumber,name", map_department),
    "projects": DimensionSource("/project", "id,number,name", map_project),
    "customers": DimensionSource("/customer", "id,customerNumber,name,organizationNumber", map_customer,
                                 filters=BOTH_STATES),
    "suppliers": DimensionSource("/supplier", "id,supplierNumber,name,organizationNumber", map_supplier,
                                 filters=BOTH_STATES),
}
