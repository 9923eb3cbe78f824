"""The only SQL the agent runs: a fixed list of parameterised queries over the Visma Business model.

A request names a query and gives its parameters; nothing in a request
becomes SQL text. Parameters are bound (``?``), and the two things that
cannot be bound, a company's database name and an org-unit table, are built
from validated integers (``F0001``, ``R3``). So the gateway, or anyone who
holds a pairing key, can make the agent read the books it serves and nothing
else.

The SQL is a subset SQL Server and SQLite both run (SQLite through its ODBC
driver stands in for SQL Server in tests). The dialects differ in one place:
SQL Server limits rows with ``SELECT TOP (?)``, SQLite with ``LIMIT ?``.
The keyset condition is
written ``JNo >= ? AND (JNo > ? OR EntNo > ?)`` rather than as one ``OR``, so
that both planners seek to the page's first key instead of scanning from the
table's start on every page. Period buckets are computed in a derived table because SQL Server refuses a
``GROUP BY`` on an expression holding parameters (each ``?`` is a separate
parameter to it, so the select list would not match the grouping).
Table and column names: docs/connectors/visma-business.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: ``AcTr`` columns a posting is read with, in this order; keyset paging uses the first two. The agent
#: installs without the platform, so these are spelt here; a test keeps them equal to the platform's
#: model of Visma Business (``GL_TRANSACTION.names("sql")``), which the connector maps them with.
POSTING_COLUMNS = ("JNo", "EntNo", "AcNo", "VoNo", "VoDt", "Yr", "Pr", "AcAm", "Cur", "CurAm", "Txt",
                   *(f"R{n}" for n in range(1, 13)), "CustNo", "SupNo", "ChDt", "ChTs")
#: ``Actor`` columns (the model's ``ASSOCIATE``), ``Ac`` columns (``ACCOUNT``), the company table's.
ACTOR_COLUMNS = ("ActNo", "CustNo", "SupNo", "Nm", "BsNo")
ACCOUNT_COLUMNS = ("AcNo", "Nm", "AcGr")
COMPANY_COLUMNS = ("FrmNo", "Nm")
PAGE_ROWS = 50_000
ORG_UNITS = tuple(f"R{n}" for n in range(1, 13))


class QueryError(ValueError):
    """A request the agent refuses: an unknown query or a parameter out of its range."""


def _int(name: str, low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise QueryError(f"parameter '{name}' must be a whole number from {low} to {high}")
        return value
    return check


_DATE = (10000101, 99991231)
_PERIOD = (100001, 999912)


@dataclass(frozen=True)
class Query:
    """One query: which database it reads, its SQL per dialect, its parameters and its paging."""

    name: str
    #: ``system`` (the system database) or ``company`` (the company's ``F####`` database)
    database: str
    #: SQL with ``{top}``/``{limit}`` where the dialect's row limit goes (paged queries only)
    sql: str
    params: Mapping[str, Callable[[object], int]]
    #: how the request's parameters become the bound values, in order
    bind: Callable[[Mapping[str, int]], list[int]]
    #: keyset-paged queries name their key columns' positions; ``()``: one statement
    keyset: tuple[int, ...] = ()

    def statement(self, dialect: str) -> str:
        if dialect == "sqlserver":
            return self.sql.format(top="TOP (?) ", limit="")
        return self.sql.format(top="", limit=" LIMIT ?")


def _balances_bind(p: Mapping[str, int]) -> list[int]:
    """``VoDt`` before the first period's first day is opening; up to the last period's last day counts."""
    return [p["from_period"] * 100, p["to_period"] * 100 + 99]


_COMPANY = {"company": _int("company", 0, 9999999)}
_WINDOW = {**_COMPANY, "start": _int("start", *_DATE), "end": _int("end", *_DATE)}

QUERIES: dict[str, Query] = {q.name: q for q in (
    # Companies of the installation: guessed table Frm (see the connector's documentation).
    Query("companies", "system", f"SELECT {', '.join(COMPANY_COLUMNS)} FROM Frm ORDER BY FrmNo", {}, lambda p: []),
    Query("postings", "company",
          f"SELECT {{top}}{', '.join(POSTING_COLUMNS)} FROM AcTr WHERE VoDt >= ? AND VoDt < ? "
          "AND JNo >= ? AND (JNo > ? OR EntNo > ?) ORDER BY JNo, EntNo{limit}",
          _WINDOW, lambda p: [p["start"], p["end"]], keyset=(0, 1)),
    Query("count", "company", "SELECT COUNT(*) FROM AcTr WHERE VoDt >= ? AND VoDt < ?",
          _WINDOW, lambda p: [p["start"], p["end"]]),
    # Debit and credit per account and month; months before from_period summed per year (YYYY00).
    Query("balances", "company",
          "SELECT AcNo, Pr, SUM(Db), SUM(Cr) FROM ("
          "SELECT AcNo, CASE WHEN VoDt < ? THEN (VoDt / 10000) * 100 ELSE VoDt / 100 END AS Pr, "
          "CASE WHEN AcAm > 0 THEN AcAm ELSE 0 END AS Db, CASE WHEN AcAm < 0 THEN -AcAm ELSE 0 END AS Cr "
          "FROM AcTr WHERE VoDt <= ?) t GROUP BY AcNo, Pr ORDER BY AcNo, Pr",
          {**_COMPANY, "from_period": _int("from_period", *_PERIOD), "to_period": _int("to_period", *_PERIOD)},
          _balances_bind),
    Query("accounts", "company", f"SELECT {', '.join(ACCOUNT_COLUMNS)} FROM Ac ORDER BY AcNo", _COMPANY,
          lambda p: []),
    Query("actors", "company", f"SELECT {', '.join(ACTOR_COLUMNS)} FROM Actor ORDER BY ActNo", _COMPANY,
          lambda p: []),
    *(Query(f"org_unit_{n}", "company", f"SELECT RNo, Nm FROM {table} ORDER BY RNo", _COMPANY, lambda p: [])
      for n, table in enumerate(ORG_UNITS, 1)),
)}


def resolve(name: object, params: object) -> tuple[Query, dict[str, int]]:
    """The query a request names, with its parameters checked; anything else is a :class:`QueryError`."""
    query = QUERIES.get(name) if isinstance(name, str) else None
    if query is None:
        raise QueryError(f"unknown query {name!r}: the agent runs only {', '.join(sorted(QUERIES))}")
    if not isinstance(params, dict) or set(params) != set(query.params):
        raise QueryError(f"query '{query.name}' takes exactly the parameters {sorted(query.params)}")
    checked = {key: check(params[key]) for key, check in query.params.items()}
    if "start" in checked and checked["end"] <= checked["start"]:
        raise QueryError("parameter 'end' must be after 'start'")
    if "to_period" in checked and checked["to_period"] < checked["from_period"]:
        raise QueryError("parameter 'to_period' must not be before 'from_period'")
    return query, checked


def company_database(company: int) -> str:
    """A company's database: ``F`` and its number, at least four digits (``F0001``)."""
    return f"F{company:04d}"
