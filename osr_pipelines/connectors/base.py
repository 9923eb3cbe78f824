"""The connector protocol: what every ERP client offers the layers above it.

Connectors know nothing of Dagster or of the warehouse. They yield canonical
rows as plain tuples in the column order fixed below, in batches, so that the
loader can stream them into COPY without building dicts or objects per row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple, Protocol, runtime_checkable

#: Canonical posting columns, in the order connectors yield them.
#: ``voucher_date`` is an ISO ``YYYY-MM-DD`` string, ``period`` an int ``YYYYMM``,
#: amounts are floats rounded to cents (debit positive) or Decimals.
POSTING_COLUMNS: tuple[str, ...] = (
    "posting_id",
    "voucher_number",
    "voucher_date",
    "period",
    "account",
    "amount",
    "currency",
    "amount_currency",
    "description",
    "department",
    "project",
    "customer",
    "supplier",
    "free_dimension_1",
    "free_dimension_2",
    "free_dimension_3",
    "source_changed_at",
)

#: Canonical dimension columns per dimension, in the order connectors yield them.
DIMENSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("id", "number", "name", "account_type", "account_group"),
    "departments": ("id", "code", "name"),
    "projects": ("id", "code", "name"),
    "customers": ("id", "code", "name", "organization_number"),
    "suppliers": ("id", "code", "name", "organization_number"),
}
DIMENSIONS: tuple[str, ...] = tuple(DIMENSION_COLUMNS)

#: Project transactions of an ERP without a general ledger (Contracting Works): revenue and cost lines of
#: invoices and supplier invoices per project, signed as a ledger signs them (revenue negative, cost positive).
#: ``source`` names the document kind, ``transaction_date`` is ISO ``YYYY-MM-DD``, ``period`` ``YYYYMM``.
PROJECT_TRANSACTION_COLUMNS: tuple[str, ...] = (
    "transaction_id", "source", "document_number", "transaction_date", "period", "project", "account",
    "department", "customer", "supplier", "amount", "description", "source_changed_at",
)
#: Budget amounts, any ERP's: one row per budget line and period (``YYYYMM``); ``account`` is the ledger's or,
#: for a project budget, the project account; ``project`` and ``department`` empty where the budget has none.
#: ``amount`` is signed as the ledger signs it (a cost budget positive, a revenue budget negative), so that a
#: statement turns it to its own signs as it turns the postings.
BUDGET_COLUMNS: tuple[str, ...] = ("line_id", "scenario", "account", "project", "department", "period", "amount")

Row = tuple
Batch = list[Row]


@dataclass(frozen=True)
class Window:
    """A half-open date window ``[start, end)``, the unit of every posting import."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty window: end {self.end} is not after start {self.start}")

    @classmethod
    def last_days(cls, days: int, today: date) -> Window:
        """The last ``days`` days up to and including ``today``."""
        return cls(today - timedelta(days=days - 1), today + timedelta(days=1))

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@dataclass(frozen=True)
class CompanyInfo:
    """A company the connection can reach, as the ERP names it."""

    erp_id: str
    name: str
    organization_number: str | None = None
    #: what else the source tells about the company (a SAF-T folder: its files and the periods they cover)
    note: str = ""


class SourceCount(NamedTuple):
    """How many posting rows the ERP itself said a read holds, for checking the import against.

    ``rows`` is ``None`` where the ERP reports no count (``note`` says why);
    ``field`` names where it reports it (``fullResultSize``); ``exact`` is false
    where the ERP documents the count as approximate.
    """

    rows: int | None
    field: str
    exact: bool
    note: str = ""


class ConnectorError(Exception):
    """An error from a source, naming where it happened so that users can act on it.

    Messages never contain secrets: connectors pass names of credentials
    (environment variable names), never their values. ``company`` is the ERP's
    own id of the company (``erp_id``), shown as "ERP company"; the warehouse
    and Dagster name a company by its key, ``<connection>.<erp_id>``.
    """

    def __init__(
        self,
        message: str,
        *,
        connection: str,
        company: str | None = None,
        field: str | None = None,
    ) -> None:
        self.connection = connection
        self.company = company
        self.field = field
        self.reason = message
        where = [f"connection '{connection}'"]
        if company is not None:
            where.append(f"ERP company '{company}'")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}")


class CredentialLabels:
    """Names credentials in messages by field and environment variable, so users know what to fix.

    Values are never part of a label: that is what keeps secrets out of errors and logs.
    """

    def __init__(self, credential_env: Mapping[str, str] | None, nouns: Mapping[str, str] | None = None) -> None:
        self._env = dict(credential_env or {})
        self._nouns = dict(nouns or {})

    def __call__(self, field: str) -> str:
        env = self._env.get(field)
        noun = self._nouns.get(field, field.replace("_", " "))
        return f"{noun} (credential '{field}'{f', env {env}' if env else ''})"

    def require(self, connection: str, credentials: Mapping[str, str], fields: Iterable[str]) -> None:
        for field in fields:
            if not credentials.get(field):
                raise ConnectorError(f"the {self(field)} is missing", connection=connection, field=field)


class CredentialsRejected(ConnectorError):
    """The ERP rejected the credentials; retrying will not help."""


class SourceUnavailable(ConnectorError):
    """The ERP could not be reached or kept failing after retries."""


class MalformedResponse(ConnectorError):
    """The ERP answered with data that does not fit its published API."""


def account_type(kind: str | None, balance_kinds: Collection[str], number: int) -> str:
    """``balance`` or ``income``: from the ERP's own account type when it names one, else from the
    NS 4102 number range (classes 1 and 2, below 3000, are the balance sheet)."""
    if kind:
        return "balance" if kind in balance_kinds else "income"
    return "balance" if number < 3000 else "income"


def map_page(page: list, map_rows: Callable[[list], Batch], *, connection: str, company: str) -> Batch:
    """``map_rows(page)``; an item lacking a field, or with one of the wrong type, becomes a
    :class:`MalformedResponse` naming the connection and company instead of a bare ``KeyError``."""
    try:
        return map_rows(page)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"unexpected object shape ({type(exc).__name__}: {exc})",
                                connection=connection, company=company) from None


def each(mapper: Callable[[dict], Row]) -> Callable[[list], Batch]:
    """A page mapper applying ``mapper`` to every item."""
    return lambda page: [mapper(item) for item in page]


@runtime_checkable
class Connector(Protocol):
    """One ERP login. Implementations stream; none collects history in memory."""

    connection: str

    def list_companies(self) -> list[CompanyInfo]:
        """Companies reachable through this connection."""
        ...

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        """Batches of rows shaped as ``DIMENSION_COLUMNS[dimension]``."""
        ...

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Batches of rows shaped as ``POSTING_COLUMNS``, dated inside ``window``."""
        ...

    def source_count(self) -> SourceCount:
        """The count the ERP reported during the last completed :meth:`stream_postings`."""
        ...

    def close(self) -> None:
        """Release connections and sessions."""
        ...


@runtime_checkable
class ProjectEconomics(Protocol):
    """A source of project transactions and budgets instead of (or beside) ledger postings."""

    def stream_project_transactions(self, erp_id: str, window: Window | None,
                                    changed_since: datetime | None = None) -> Iterator[Batch]:
        """Rows shaped as ``PROJECT_TRANSACTION_COLUMNS``: all (``window`` None), those dated in ``window``, or
        those created or changed from ``changed_since`` on."""
        ...

    def stream_budgets(self, erp_id: str) -> Iterator[Batch]:
        """Rows shaped as ``BUDGET_COLUMNS``: every budget line period of the company."""
        ...

    def project_count(self) -> SourceCount:
        """The count the source reported during the last completed :meth:`stream_project_transactions`."""
        ...


#: One aggregate of a direct connection: ``(account, period, debit, credit)``; ``period`` is ``YYYYMM``,
#: or ``YYYY00`` for everything of year ``YYYY`` before the first period asked for.
BalanceRow = tuple[str, int, Decimal, Decimal]


@runtime_checkable
class EnteredSince(Protocol):
    """A connector whose ERP lists postings by when they were entered, whatever their date.

    The nightly replaces a window of recent dates; a voucher entered since the
    last run but dated before that window would otherwise wait for the weekly
    year-to-date import. Connectors of ERPs that can answer "entered after"
    implement this, and the nightly adds those postings by their ids.
    """

    def stream_postings_created_since(self, erp_id: str, window: Window, since: datetime) -> Iterator[Batch]:
        """Postings dated inside ``window`` and entered after ``since`` (naive means UTC)."""
        ...


@runtime_checkable
class WarnsOfSource(Protocol):
    """A connector whose source can be read whole yet disagree with itself, such as a file whose stated
    closing balances differ from its own lines; the import logs each warning and keeps what the lines say."""

    def source_warnings(self, erp_id: str) -> list[str]:
        """What the last read of ``erp_id`` found inconsistent in the source, one message each."""
        ...


@runtime_checkable
class DirectConnector(Connector, Protocol):
    """A connector that reports query live: the ERP aggregates, nothing is stored.

    Reports need only account totals per period, and every ERP with a direct
    mode answers that with one aggregate query of its own, so this is all a
    direct connector adds to :class:`Connector` (whose ``accounts`` dimension
    names and types the accounts).
    """

    def balances(self, erp_id: str, from_period: int, to_period: int) -> Iterable[BalanceRow]:
        """Debit and credit totals per account and period up to ``to_period``; periods before
        ``from_period`` summed per year (period ``YYYY00``), so opening balances cost one row a year."""
        ...

    def currency(self, erp_id: str) -> str:
        """The company's own (domestic) currency, the one amounts are in."""
        ...
