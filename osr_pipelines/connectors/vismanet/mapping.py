"""Visma.net ERP JSON objects to canonical rows.

General-ledger lines are ``GeneralLedgerTransactionDetailsDto`` items, decoded
straight into msgspec Structs (a page holds up to ``maxPageSize`` lines) and
mapped in one tight loop. Dimension pages are small and stay plain dicts.

Canonical mapping (documented in ``docs/connectors/visma-net.md``):

* ``posting_id``: Visma.net lines have no id of their own; their key is
  (module, batch number, line number). GL-module lines get
  ``batchNumber`` followed by ``lineNumber`` zero-padded to five digits, so
  that batch 1 line 12 and batch 11 line 2 cannot both become ``112``; other
  modules are prefixed with ``<module>:`` so that their batch numbering cannot
  collide with the GL's.
* ``voucher_number``: the line's ``refNumber`` (the voucher/document number
  users see), the batch number where it is empty.
* ``period``: the calendar month (``YYYYMM``) of ``tranDate``, as for every
  connector; the line's financial period (``period``, numbered within a
  financial year that may start in another month) is not kept.
* ``amount``: ``debitAmount - creditAmount`` (domestic), ``amount_currency`` the
  same in the line's currency.
* ``department``: the line's subaccount (Visma.net's cost-centre dimension),
  ``free_dimension_1``: its branch number. GL lines carry no customer,
  supplier or project; those stay empty.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from osr_pipelines.connectors.base import Batch, Row
from osr_pipelines.connectors.http import gc_paused, json_decoder

#: Account types on the balance sheet; ``Income`` and ``Expense`` accounts are result accounts.
BALANCE_TYPES = frozenset({"Asset", "Liability"})


class Metadata(msgspec.Struct, gc=False):
    """``MetadataDto``: repeated on every list item."""

    totalCount: int | None = None
    maxPageSize: int | None = None


class _Number(msgspec.Struct, gc=False):
    number: str | None = None


class GlLine(msgspec.Struct, gc=False):
    """A ``GeneralLedgerTransactionDetailsDto``: the fields the connector reads; others are ignored."""

    lineNumber: int
    batchNumber: str
    tranDate: str
    account: _Number
    module: str | None = None
    description: str | None = None
    refNumber: str | None = None
    branch: _Number | None = None
    subaccount: str | None = None
    debitAmount: float = 0.0
    creditAmount: float = 0.0
    currency: str | None = None
    currDebitAmount: float = 0.0
    currCreditAmount: float = 0.0
    lastModifiedDateTime: str | None = None
    metadata: Metadata | None = None


#: Decode a ``GeneralLedgerTransactions`` page into Structs.
decode_gl_lines = json_decoder(list[GlLine])


def map_gl_lines(lines: list[GlLine], currency: str) -> Batch:
    """Canonical posting tuples of ``lines``; ``currency`` is the company's, for lines without one."""
    with gc_paused():
        return _map_gl_lines(lines, currency)


def _map_gl_lines(lines: list[GlLine], currency: str) -> Batch:
    rows: Batch = []
    append = rows.append
    for line in lines:
        module = line.module
        batch = line.batchNumber
        key = f"{batch}{line.lineNumber:05d}"
        if module not in (None, "GL", "ModuleGL"):
            key = f"{module}:{key}"
        branch = line.branch
        append((
            key,
            line.refNumber or batch,
            line.tranDate[:10],
            int(line.tranDate[:4] + line.tranDate[5:7]),
            line.account.number,
            round(line.debitAmount - line.creditAmount, 2),
            line.currency or currency,
            round(line.currDebitAmount - line.currCreditAmount, 2),
            line.description,
            line.subaccount or None,
            None,
            None,
            None,
            None if branch is None else branch.number,
            None,
            None,
            line.lastModifiedDateTime,
        ))
    return rows


def map_account(a: dict) -> Row:
    kind = "balance" if a.get("type") in BALANCE_TYPES else "income"
    return (str(a.get("accountID") or a["accountCD"]), a["accountCD"], a.get("description"), kind,
            a.get("accountGroupCd") or a.get("accountClass"))


def map_subaccount(s: dict) -> Row:
    number = s["subaccountNumber"]
    return (number, number, s.get("description"))


def map_project(p: dict) -> Row:
    return (str(p.get("internalID") or p["projectID"]), p["projectID"], p.get("description"))


def map_customer(c: dict) -> Row:
    return (c["number"], c["number"], c.get("name"), c.get("corporateId") or None)


def map_supplier(s: dict) -> Row:
    return (s["number"], s["number"], s.get("name"), s.get("corporateId") or None)


#: Canonical dimension -> (API path, mapper). Subaccounts are the departments (see the module docstring).
DIMENSION_SOURCES: dict[str, tuple[str, Callable[[dict], Row]]] = {
    "accounts": ("/v1/account", map_account),
    "departments": ("/v1/subaccount", map_subaccount),
    "projects": ("/v1/project", map_project),
    "customers": ("/v1/customer", map_customer),
    "suppliers": ("/v1/supplier", map_supplier),
}
