"""Xledger GraphQL nodes to canonical rows.

Sign convention: Xledger's ``transactions.amount`` is signed in the ledger's
own terms, debit positive and credit negative (a voucher's lines sum to zero),
which is already the canonical convention, so amounts pass through unchanged.
The account flag ``credit`` describes an account's normal balance side; it
does not flip the sign of its transactions. Amounts arrive as strings and
are decoded straight into floats.

Transactions reference accounts, customers and suppliers by ``dbId`` only, so
the client resolves them through per-company lookups (:class:`Lookups`). A
transaction names its business partner (``companyDbId``), not whether it acts
as customer or supplier; a partner that is both is placed by the line's account
(:func:`account_role`), so it never fills both columns.

Currency: ``currency { code }`` is the line's currency and ``invoiceAmount``
its amount in that currency; ``amount`` is in the entity's own currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from osr_pipelines.connectors.base import Batch, Row
from osr_pipelines.connectors.graphql import typed_decoder
from osr_pipelines.connectors.http import gc_paused


class _Header(msgspec.Struct, gc=False):
    transactionNumber: str
    postedDate: str
    modifiedAt: str | None = None


class _Currency(msgspec.Struct, gc=False):
    code: str | None = None


class Transaction(msgspec.Struct, gc=False):
    """A ``transactions`` node as :func:`~osr_pipelines.connectors.xledger.queries.transactions` selects it."""

    dbId: str
    amount: float
    accountDbId: str
    header: _Header
    invoiceAmount: float | None = None
    currency: _Currency | None = None
    text: str | None = None
    companyDbId: str | None = None
    glObject1DbId: str | None = None
    glObject2DbId: str | None = None
    glObject3DbId: str | None = None
    glObject4DbId: str | None = None
    glObject5DbId: str | None = None


class Edge(msgspec.Struct, gc=False):
    node: Transaction
    cursor: str


class PageInfo(msgspec.Struct, gc=False):
    hasNextPage: bool


class TransactionConnection(msgspec.Struct, gc=False):
    edges: list[Edge]
    pageInfo: PageInfo


class TransactionData(msgspec.Struct, gc=False):
    transactions: TransactionConnection | None = None


decode_transactions = typed_decoder(TransactionData)


CUSTOMER, SUPPLIER = "customer", "supplier"


def account_role(account: dict) -> str | None:
    """Whose line an account carries: the customer's (receivables, revenue) or the supplier's
    (payables, cost); ``None`` for the rest (bank, VAT, equity).

    The ledger type decides first (``AR``/``AP``; the names are a guess, see the docs),
    then the account's own ``revenue``/``cost`` flags.
    """
    ledger = ((account.get("ledgerType") or {}).get("name") or "").strip().upper()
    if ledger == "AR":
        return CUSTOMER
    if ledger == "AP":
        return SUPPLIER
    if account.get("revenue"):
        return CUSTOMER
    if account.get("cost"):
        return SUPPLIER
    return None


@dataclass(frozen=True)
class Lookups:
    """What a company's transactions reference by ``dbId``: account numbers and roles
    (:func:`account_role`), and the customer and supplier behind a business-partner
    ``companyDbId``."""

    accounts: dict[str, str]
    roles: dict[str, str | None]
    customers: dict[str, str]
    suppliers: dict[str, str]


@dataclass(frozen=True)
class Slots:
    """Which ``glObjectN`` (1-based) holds departments and projects; the others, in order,
    fill ``free_dimension_1..3``."""

    department: int | None = 1
    project: int | None = 2

    @property
    def free(self) -> tuple[int, ...]:
        return tuple(n for n in range(1, 6) if n not in (self.department, self.project))[:3]


class OutsideWindow(ValueError):
    """A transaction posted outside the window its page was asked for."""

    def __init__(self, day: str) -> None:
        super().__init__(day)
        self.day = day


def map_transactions(edges: list[Edge], lookups: Lookups, slots: Slots, window: tuple[str, str]) -> Batch:
    """Canonical posting rows of one page; the per-row loop is the hot path of a full import.

    ``window`` is the ``[first day, day after the last)`` the page was filtered to, as ISO
    dates: a posting date outside it means the posted-date filter does not filter on the
    posting date, and raises :class:`OutsideWindow` rather than loading a wrong window.
    Raises ``KeyError`` for an account the lookup lacks (the client reports both).
    """
    with gc_paused():
        return _map(edges, lookups, slots, window)


def _map(edges: list[Edge], lookups: Lookups, slots: Slots, window: tuple[str, str]) -> Batch:
    rows: Batch = []
    append = rows.append
    accounts, roles = lookups.accounts, lookups.roles
    customers, suppliers = lookups.customers, lookups.suppliers
    first_day, end_day = window
    d = None if slots.department is None else slots.department - 1
    p = None if slots.project is None else slots.project - 1
    f = (*(n - 1 for n in slots.free), None, None, None)[:3]
    last = None
    period = 0
    for edge in edges:
        n = edge.node
        h = n.header
        day = h.postedDate[:10]
        if day != last:
            if not first_day <= day < end_day:
                raise OutsideWindow(day)
            last = day
            period = int(day[:4]) * 100 + int(day[5:7])
        objects = (n.glObject1DbId, n.glObject2DbId, n.glObject3DbId, n.glObject4DbId, n.glObject5DbId, None)
        account = accounts[n.accountDbId]
        partner = n.companyDbId
        customer = supplier = None
        if partner is not None:
            customer, supplier = customers.get(partner), suppliers.get(partner)
            if customer is not None and supplier is not None:
                role = roles.get(n.accountDbId)
                customer = customer if role == CUSTOMER else None
                supplier = supplier if role == SUPPLIER else None
        currency = n.currency
        append((
            n.dbId,
            h.transactionNumber,
            day,
            period,
            account,
            round(n.amount, 2),
            None if currency is None else currency.code,
            None if n.invoiceAmount is None else round(n.invoiceAmount, 2),
            n.text,
            objects[-1 if d is None else d],
            objects[-1 if p is None else p],
            customer,
            supplier,
            objects[-1 if f[0] is None else f[0]],
            objects[-1 if f[1] is None else f[1]],
            objects[-1 if f[2] is None else f[2]],
            h.modifiedAt,
        ))
    return rows


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def map_account(a: dict) -> Row:
    group = a.get("accountGroup") or {}
    return (str(a["dbId"]), a["code"], a.get("description"), "balance" if a.get("balanceSheet") else "income",
            _str(group.get("dbId")))


def map_code(o: dict) -> Row:
    """Object values (departments) and projects: ``dbId``, ``code``, ``description``."""
    return (str(o["dbId"]), o.get("code") or str(o["dbId"]), o.get("description"))


def map_partner(c: dict) -> Row:
    """Customers and suppliers; the organisation number is their company's ``companyNumber``."""
    company = c.get("company") or {}
    return (str(c["dbId"]), c.get("code") or str(c["dbId"]), c.get("description"),
            company.get("companyNumber") or None)


#: Canonical dimension -> node mapper.
DIMENSION_MAPPERS: dict[str, Callable[[dict], Row]] = {
    "accounts": map_account,
    "departments": map_code,
    "projects": map_code,
    "customers": map_partner,
    "suppliers": map_partner,
}
