"""The Visma Business tables and columns the product reads, named both ways, and their one mapping.

Business NXT is Visma Business in the cloud: its GraphQL API exposes the same
tables and columns under English camelCase names (``AcTr.AcNo`` is
``generalLedgerTransaction.accountNo``). Visma Business on premise is read
from SQL Server under the short SQL names. Each column is declared here once
with both names, and :func:`posting_mapper` / :func:`dimension_mapper` turn a
row keyed by either naming into canonical rows, so both connectors map alike.

Where each name comes from is recorded in ``docs/connectors/business-nxt.md``
("The Visma Business data model"); a column whose SQL or API name no public
source shows is marked ``guess`` on that side and the doc says so.

Canonical mapping:

* ``posting_id``: ``AcTr``'s key is (journal ``JNo``, entry ``EntNo``); the id
  is the journal number followed by the entry number zero-padded to five
  digits, so that journal 1 entry 12 and journal 11 entry 2 stay distinct.
* ``voucher_number``/``voucher_date``: ``VoNo`` and ``VoDt`` (an integer
  ``yyyymmdd``); ``period`` is the calendar month of the voucher date, as for
  every connector.
* ``amount``: the posted domestic amount, signed (debit positive, credit
  negative); ``amount_currency`` the amount in the line's currency, whose
  number (``Cur``) is read as an ISO 4217 numeric code; 0 means domestic.
* org units ``R1``..``R12`` become department, project and up to three free
  dimensions as :class:`OrgUnitRoles` says (per connection); 0 or blank is none.
* ``customer``/``supplier``: the line's customer and supplier numbers (0 is none).
* ``source_changed_at``: ``changedTimestamp`` (set only on rows created or
  changed since October 2024), else the changed date ``ChDt``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from osr_pipelines.connectors.base import Batch, Row, account_type

#: Which names a row is keyed by: SQL Server columns (on premise) or Business NXT API fields.
Naming = Literal["sql", "api"]
NAMINGS: tuple[Naming, ...] = ("sql", "api")


@dataclass(frozen=True)
class Column:
    """One column: its SQL name, its Business NXT API name, and which of them no public source confirms."""

    sql: str
    api: str
    guess: tuple[Naming, ...] = ()

    def name(self, naming: Naming) -> str:
        return self.sql if naming == "sql" else self.api


@dataclass(frozen=True)
class Table:
    """One table: its SQL name, its API name (the GraphQL field under ``useCompany``) and its columns by role."""

    sql: str
    api: str
    columns: Mapping[str, Column]
    guess: tuple[Naming, ...] = ()

    def name(self, naming: Naming) -> str:
        return self.sql if naming == "sql" else self.api

    def column(self, role: str, naming: Naming) -> str:
        return self.columns[role].name(naming)

    def names(self, naming: Naming) -> tuple[str, ...]:
        """Every column's name in ``naming``, in declaration order (a SELECT list or a GraphQL selection)."""
        return tuple(c.name(naming) for c in self.columns.values())


ORG_UNITS = tuple(range(1, 13))
#: ``R1``..``R6`` hold integers, ``R7``..``R12`` text (varchar(50)).
INTEGER_ORG_UNITS = frozenset(range(1, 7))


def _org_unit_columns() -> dict[str, Column]:
    return {f"org_unit_{n}": Column(f"R{n}", f"orgUnit{n}") for n in ORG_UNITS}


#: General-ledger transactions (``AcTr``).
GL_TRANSACTION = Table("AcTr", "generalLedgerTransaction", {
    "journal": Column("JNo", "voucherJournalNo", guess=("api",)),
    "entry": Column("EntNo", "entryNo", guess=("api",)),
    "account": Column("AcNo", "accountNo"),
    "voucher_number": Column("VoNo", "voucherNo"),
    "voucher_date": Column("VoDt", "voucherDate"),
    "year": Column("Yr", "year", guess=("sql",)),
    "period": Column("Pr", "period", guess=("sql",)),
    "amount": Column("AcAm", "postedAmountDomestic", guess=("sql",)),
    "currency": Column("Cur", "currencyNo", guess=("api",)),
    "amount_currency": Column("CurAm", "currencyAmount", guess=("api",)),
    "text": Column("Txt", "text"),
    **_org_unit_columns(),
    "customer": Column("CustNo", "customerNo", guess=("sql",)),
    "supplier": Column("SupNo", "supplierNo", guess=("sql", "api")),
    "changed_date": Column("ChDt", "changedDate", guess=("api",)),
    "changed_at": Column("ChTs", "changedTimestamp", guess=("sql",)),
})

#: General-ledger accounts (``Ac``).
ACCOUNT = Table("Ac", "generalLedgerAccount", {
    "number": Column("AcNo", "accountNo"),
    "name": Column("Nm", "name"),
    "group": Column("AcGr", "accountGroup"),
})


def org_unit_table(n: int) -> Table:
    """Org-unit table ``R<n>`` (departments, projects and free dimensions, as a company uses them)."""
    if n not in ORG_UNITS:
        raise ValueError(f"org unit {n} is not one of 1..12")
    return Table(f"R{n}", f"orgUnit{n}", {
        "number": Column("RNo", "orgUnitNo", guess=("api",)),
        "name": Column("Nm", "name", guess=("api",)),
    }, guess=("api",))


#: Associates (``Actor``): one row per party; a customer has a customer number, a supplier a supplier number.
ASSOCIATE = Table("Actor", "associate", {
    "number": Column("ActNo", "associateNo", guess=("sql", "api")),
    "customer": Column("CustNo", "customerNo"),
    "supplier": Column("SupNo", "supplierNo", guess=("sql", "api")),
    "name": Column("Nm", "name"),
    "organization_number": Column("BsNo", "organisationNo", guess=("api",)),
})

#: Companies: the system database's company table on premise; ``availableCompanies`` in Business NXT.
COMPANY = Table("Frm", "availableCompanies", {
    "number": Column("FrmNo", "vismaNetCompanyId"),
    "name": Column("Nm", "name", guess=("sql",)),
    "customer": Column("CustNo", "vismaNetCustomerId", guess=("sql",)),
}, guess=("sql",))

#: ISO 4217 numeric codes of the currencies Nordic companies post in; another number is kept as its digits.
ISO_NUMERIC = {
    36: "AUD", 124: "CAD", 156: "CNY", 208: "DKK", 352: "ISK", 392: "JPY", 578: "NOK", 752: "SEK",
    756: "CHF", 826: "GBP", 840: "USD", 978: "EUR", 985: "PLN",
}


@dataclass(frozen=True)
class OrgUnitRoles:
    """Which org units (1..12, or none) hold departments, projects and free dimensions 1..3.

    Visma Business leaves their meaning to each company, so it is a
    connection option (:mod:`.org_units`, for every type that reads this
    model); the default is the common use of R1 for departments and R2 for
    projects.
    """

    department: int | None = 1
    project: int | None = 2
    free: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        used = [n for n in (self.department, self.project, *self.free) if n is not None]
        if len(self.free) > 3:
            raise ValueError("at most three org units can be free dimensions")
        if any(n not in ORG_UNITS for n in used):
            raise ValueError("org units are numbered 1..12")
        if len(set(used)) != len(used):
            raise ValueError("an org unit can hold only one of department, project and free dimensions")

    def holding(self, dimension: str) -> int | None:
        """The org unit whose table holds ``departments`` or ``projects`` (``None``: no table does)."""
        return self.department if dimension == "departments" else self.project

    def slots(self) -> tuple[int | None, ...]:
        """Org unit of department, project and free dimensions 1..3, in canonical column order."""
        return (self.department, self.project, *self.free, *(None,) * (3 - len(self.free)))


def _text(value: Any) -> str | None:
    """A key or code as text; Visma Business writes 0 or blank where a line has none."""
    if value is None or value == 0 or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def iso_date(yyyymmdd: Any) -> str:
    """``20260131`` (an int or its digits) as ``2026-01-31``."""
    digits = f"{int(yyyymmdd):08d}"
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


def currency_code(number: Any, domestic: str) -> str:
    """The ISO code of a currency number; 0 or none is the company's own currency."""
    if not number:
        return domestic
    if isinstance(number, str) and not number.isdigit():
        return number
    return ISO_NUMERIC.get(int(number), str(int(number)))


def posting_mapper(naming: Naming, roles: OrgUnitRoles, domestic: str) -> Callable[[Mapping[str, Any]], Row]:
    """A function from one ``AcTr`` row keyed by ``naming`` to a canonical posting tuple.

    Column names are resolved once here, not per row. ``domestic`` is the
    company's own currency, for lines in it.
    """
    name = {role: GL_TRANSACTION.column(role, naming) for role in GL_TRANSACTION.columns}
    journal, entry, voucher, day = name["journal"], name["entry"], name["voucher_number"], name["voucher_date"]
    account, amount, currency, amount_currency = name["account"], name["amount"], name["currency"], \
        name["amount_currency"]
    text, customer, supplier = name["text"], name["customer"], name["supplier"]
    changed_at, changed_date = name["changed_at"], name["changed_date"]
    slots = tuple(None if n is None else name[f"org_unit_{n}"] for n in roles.slots())
    department, project, free1, free2, free3 = slots

    def pick(row: Mapping[str, Any], column: str | None) -> str | None:
        return None if column is None else _text(row.get(column))

    def mapped(row: Mapping[str, Any]) -> Row:
        date = iso_date(row[day])
        posted = round(float(row[amount]), 2)
        foreign = row.get(amount_currency)
        changed = row.get(changed_at) or (iso_date(row[changed_date]) if row.get(changed_date) else None)
        return (
            f"{int(row[journal])}{int(row[entry]):05d}",
            _text(row[voucher]),
            date,
            int(date[:4] + date[5:7]),
            str(int(row[account])),
            posted,
            currency_code(row.get(currency), domestic),
            posted if foreign is None or not row.get(currency) else round(float(foreign), 2),
            row.get(text) or None,
            pick(row, department),
            pick(row, project),
            _text(row.get(customer)),
            _text(row.get(supplier)),
            pick(row, free1),
            pick(row, free2),
            pick(row, free3),
            None if changed is None else str(changed),
        )

    return mapped


def map_postings(rows: Iterable[Mapping[str, Any]], mapper: Callable[[Mapping[str, Any]], Row]) -> Batch:
    return [mapper(row) for row in rows]


def dimension_mapper(dimension: str, naming: Naming) -> Callable[[Mapping[str, Any]], Row | None]:
    """A function from one row of the dimension's table keyed by ``naming`` to its canonical tuple.

    ``accounts`` read ``Ac``; ``departments`` and ``projects`` the org-unit
    table their role names (any ``R<n>``: the caller picks which); ``customers``
    and ``suppliers`` read ``Actor`` and answer ``None`` for an associate that
    is not one (a supplier row when reading customers).
    """
    if dimension == "accounts":
        number, name, group = (ACCOUNT.column(r, naming) for r in ("number", "name", "group"))

        def account(row: Mapping[str, Any]) -> Row:
            no = int(row[number])
            return (str(no), str(no), row.get(name), account_type(None, (), no), _text(row.get(group)))

        return account
    if dimension in ("departments", "projects"):
        table = org_unit_table(1)
        number, name = table.column("number", naming), table.column("name", naming)

        def unit(row: Mapping[str, Any]) -> Row | None:
            code = _text(row[number])
            return None if code is None else (code, code, row.get(name))

        return unit
    if dimension in ("customers", "suppliers"):
        key = ASSOCIATE.column("customer" if dimension == "customers" else "supplier", naming)
        name, org = ASSOCIATE.column("name", naming), ASSOCIATE.column("organization_number", naming)

        def party(row: Mapping[str, Any]) -> Row | None:
            code = _text(row.get(key))
            return None if code is None else (code, code, row.get(name), _text(row.get(org)))

        return party
    raise ValueError(f"unknown dimension '{dimension}'")
