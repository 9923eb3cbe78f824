"""Tripletex JSON objects to canonical rows.

Kept apart from the client so that the per-posting loop stays a tight,
testable function: it is where a full-history import spends its CPU.
"""

from __future__ import annotations

from collections.abc import Callable

from osr_pipelines.connectors.base import Batch, Row

#: One pass of ``/ledger/posting`` brings everything a canonical posting needs.
POSTING_FIELDS = ("id,date,description,amount,amountCurrency,account(number),voucher(number),"
                  "currency(code),department(id),project(id),customer(id),supplier(id),changes(timestamp)")

#: Tripletex account types on the balance sheet; every other type is a result (income statement) account.
BALANCE_TYPES = frozenset({"ASSETS", "EQUITY", "LIABILITIES"})


def _ref_id(obj: dict | None) -> str | None:
    return str(obj["id"]) if obj else None


def map_postings(values: list[dict]) -> Batch:
    """Map ``Posting`` objects selected with :data:`POSTING_FIELDS`.

    Tripletex numbers vouchers per year, so the canonical voucher number
    prefixes the year of the voucher date: voucher 17 of 2024 becomes
    ``"2024000017"``. The loop avoids per-row helper calls: it is the hot path.
    """
    rows: Batch = []
    append = rows.append
    for p in values:
        day = p["date"]
        year = int(day[:4])
        get = p.get
        department, project, customer, supplier, changes = (
            get("department"), get("project"), get("customer"), get("supplier"), get("changes"))
        if changes:
            changed = changes[0]["timestamp"] if len(changes) == 1 else max(c["timestamp"] for c in changes)
        else:
            changed = None
        append((
            str(p["id"]),
            str(year * 1_000_000 + p["voucher"]["number"]),
            day,
            year * 100 + int(day[5:7]),
            str(p["account"]["number"]),
            round(p["amount"], 2),
            p["currency"]["code"],
            round(p["amountCurrency"], 2),
            get("description"),
            str(department["id"]) if department else None,
            str(project["id"]) if project else None,
            str(customer["id"]) if customer else None,
            str(supplier["id"]) if supplier else None,
            None,
            None,
            None,
            changed,
        ))
    return rows


def account_type(account: dict) -> str:
    """``balance`` or ``income``, from the Tripletex type or else the NS 4102 number range."""
    kind = account.get("type")
    if kind:
        return "balance" if kind in BALANCE_TYPES else "income"
    return "balance" if account["number"] < 3000 else "income"


def map_account(a: dict) -> Row:
    return (str(a["id"]), str(a["number"]), a.get("name"), account_type(a), a.get("balanceGroup"))


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


#: Canonical dimension -> (path, fields, mapper, whether the path takes ``changedSince``).
DIMENSION_SOURCES: dict[str, tuple[str, str, Callable[[dict], Row], bool]] = {
    "accounts": ("/ledger/account", "id,number,name,type,balanceGroup", map_account, False),
    "departments": ("/department", "id,departmentNumber,name", map_department, False),
    "projects": ("/project", "id,number,name", map_project, False),
    "customers": ("/customer", "id,customerNumber,name,organizationNumber", map_customer, True),
    "suppliers": ("/supplier", "id,supplierNumber,name,organizationNumber", map_supplier, True),
}
