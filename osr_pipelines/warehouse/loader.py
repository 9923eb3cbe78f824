"""Atomic, streaming loads into the canonical schema.

Every load runs in one transaction: take the company's lock, delete the
company's rows in scope (all of them for a full import, those dated inside the
window otherwise), stream the new rows in, write the company's row, log the
load, commit. A failure anywhere rolls back to the previous data; re-running a
load yields the same rows; two loads of one company queue instead of colliding.
PostgreSQL loads through ``COPY FROM STDIN`` (psycopg 3); SQLite through the
driver's ``executemany``.
Rows are passed to the driver as they arrive, so memory stays flat however long
the history is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from osr_pipelines.connectors.base import (
    BUDGET_COLUMNS,
    DIMENSION_COLUMNS,
    POSTING_COLUMNS,
    PROJECT_TRANSACTION_COLUMNS,
    Batch,
    Window,
)
from osr_pipelines.warehouse.engine import company_lease, locked_transaction, make_engine
from osr_pipelines.warehouse.migrate import bring_to_head
from osr_pipelines.warehouse.schema import (
    budgets,
    companies,
    dimension_tables,
    gl_postings,
    import_log,
    project_transactions,
)

#: Tables of project economics and budgets, their columns as connectors yield them, and each row's own id.
COMPANY_TABLES = {"project_transactions": (project_transactions, PROJECT_TRANSACTION_COLUMNS, "transaction_id"),
                  "budgets": (budgets, BUDGET_COLUMNS, "line_id")}

ProgressCallback = Callable[[int], None]

#: ``import_log.mode`` of a load: the company's whole history, a date window replaced, rows added by id that were
#: entered back-dated since an earlier load (a nightly's catch-up, after its window's load in the same run), or a
#: company table's rows changed since its last load, replaced by id.
FULL, WINDOW, ENTERED, CHANGED = "full", "window", "entered", "changed"


class LoadError(Exception):
    """Rows from a source that cannot be loaded; the transaction was rolled back."""


class ShrinkRefused(LoadError):
    """A load that would replace a company's non-empty history or dimension with nothing.

    A source that sends nothing is far more often a wrong connector option, a
    revoked permission or an ERP glitch than a company whose books were emptied,
    so replacing everything with nothing must be asked for (``allow_shrink``).
    """


@dataclass(frozen=True)
class LoadResult:
    """What a load did, for materialization metadata and the checks that flag a sudden drop."""

    rows_written: int
    rows_deleted: int
    seconds: float

    @property
    def rows_before(self) -> int:
        """Rows in the load's scope before it ran: a load replaces its whole scope, so the rows it deleted."""
        return self.rows_deleted

    @property
    def shrink_ratio(self) -> float:
        """The share of the scope's previous rows the load took away (0 when it kept or grew them)."""
        if not self.rows_before:
            return 0.0
        return max(0.0, (self.rows_before - self.rows_written) / self.rows_before)


@dataclass(frozen=True)
class CompanyRow:
    """A company's ``companies`` row, written by the load of its postings so a failed load leaves none."""

    connection: str
    erp_id: str
    name: str
    client: str
    organization_number: str | None = None


class Warehouse:
    """The reporting database: canonical tables plus the load log, at the current schema revision."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        bring_to_head(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def company_lease(self, company: str) -> AbstractContextManager[bool]:
        """Whether no other import of ``company`` is running; see ``engine.company_lease``."""
        return company_lease(self.engine, company)

    # -- loads ---------------------------------------------------------------------

    def load_postings(
        self,
        company: str,
        batches: Iterable[Batch],
        *,
        window: Window | None,
        run_id: str,
        on_progress: ProgressCallback | None = None,
        allow_shrink: bool = False,
        company_row: CompanyRow | None = None,
    ) -> LoadResult:
        """Replace the company's postings: all of them (``window=None``) or those inside ``window``.

        A full import that would replace existing postings with none raises
        ``ShrinkRefused`` unless ``allow_shrink``. A window that comes back empty
        is accepted: vouchers deleted in the ERP leave exactly that.
        """
        started = time.perf_counter()
        checked = batches if window is None else _inside(company, window, batches)
        with self._load_transaction(company) as conn:
            scope = gl_postings.c.company == company
            if window is not None:
                scope &= (gl_postings.c.voucher_date >= window.start) & (gl_postings.c.voucher_date < window.end)
            deleted = conn.execute(delete(gl_postings).where(scope)).rowcount
            written = self._stream(conn, "gl_postings", POSTING_COLUMNS, company, run_id, checked, on_progress)
            if window is None and not allow_shrink:
                _refuse_emptying(company, "gl_postings", "full import", deleted, written)
            if company_row is not None:
                _write_company(conn, company, company_row)
            result = LoadResult(written, deleted, time.perf_counter() - started)
            self._log(conn, company, "gl_postings", run_id, window, result)
        return result

    def upsert_postings(self, company: str, batches: Iterable[Batch], *, run_id: str) -> LoadResult:
        """Add postings by id, replacing the rows of the same ids: vouchers entered back-dated since the last run.

        They are few (what was entered in a day), so they are read whole before
        the company's lock is taken; rows already there are replaced, so a
        second run over the same entries changes nothing.
        """
        started = time.perf_counter()
        rows = [row for batch in batches for row in batch]
        ids = [row[POSTING_COLUMNS.index("posting_id")] for row in rows]
        with self._load_transaction(company) as conn:
            deleted = 0
            for chunk in range(0, len(ids), 1000):
                same = (gl_postings.c.company == company) & gl_postings.c.posting_id.in_(ids[chunk:chunk + 1000])
                deleted += conn.execute(delete(gl_postings).where(same)).rowcount
            written = self._stream(conn, "gl_postings", POSTING_COLUMNS, company, run_id, [rows], None)
            result = LoadResult(written, deleted, time.perf_counter() - started)
            self._log(conn, company, "gl_postings", run_id, None, result, mode=ENTERED)
        return result

    def last_load_started(self, company: str, dataset: str, modes: Collection[str] = ()) -> datetime | None:
        """When the latest load of ``dataset`` (of one of ``modes``, if given) began (its end less its duration),
        by the database's clock."""
        log = import_log.c
        where = (log.company == company) & (log.dataset == dataset)
        if modes:
            where &= log.mode.in_(modes)
        query = select(log.finished_at, log.seconds).where(where).order_by(log.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.finished_at is None:
            return None
        finished = row.finished_at if row.finished_at.tzinfo else row.finished_at.replace(tzinfo=UTC)
        return finished - timedelta(seconds=float(row.seconds or 0))

    def load_dimension(self, company: str, dimension: str, batches: Iterable[Batch], *, run_id: str,
                       allow_shrink: bool = False) -> LoadResult:
        """Replace all of the company's rows of one dimension; emptying a non-empty one needs ``allow_shrink``."""
        started = time.perf_counter()
        table = dimension_tables[dimension]
        with self._load_transaction(company) as conn:
            deleted = conn.execute(delete(table).where(table.c.company == company)).rowcount
            written = self._stream(conn, dimension, DIMENSION_COLUMNS[dimension], company, run_id, batches, None)
            if not allow_shrink:
                _refuse_emptying(company, dimension, "import", deleted, written)
            result = LoadResult(written, deleted, time.perf_counter() - started)
            self._log(conn, company, dimension, run_id, None, result)
        return result

    def load_company_rows(self, company: str, name: str, batches: Iterable[Batch], *, run_id: str,
                          changed_only: bool = False) -> LoadResult:
        """Replace the company's rows of ``project_transactions`` or ``budgets``: all of them, or with
        ``changed_only`` just the rows whose ids the batches hold (a nightly's created and changed rows)."""
        started = time.perf_counter()
        table, columns, key = COMPANY_TABLES[name]
        with self._load_transaction(company) as conn:
            if not changed_only:
                deleted = conn.execute(delete(table).where(table.c.company == company)).rowcount
                written = self._stream(conn, name, columns, company, run_id, batches, None)
            else:
                deleted = written = 0
                position = columns.index(key)
                for batch in batches:
                    ids = [row[position] for row in batch]
                    deleted += conn.execute(delete(table).where(table.c.company == company,
                                                                table.c[key].in_(ids))).rowcount
                    written += self._stream(conn, name, columns, company, run_id, [batch], None)
            result = LoadResult(written, deleted, time.perf_counter() - started)
            self._log(conn, company, name, run_id, None, result, mode=CHANGED if changed_only else FULL)
        return result

    def _load_transaction(self, company: str) -> AbstractContextManager[Connection]:
        """One load of a company at a time: a second waits for the first to commit, then replaces its rows.

        Without it two loads both delete the old rows, both insert, and the
        second fails on the first's new rows as if the source had sent an id twice.
        """
        return locked_transaction(self.engine, f"company:{company}")

    def _stream(
        self,
        conn: Connection,
        table: str,
        columns: tuple[str, ...],
        company: str,
        run_id: str,
        batches: Iterable[Batch],
        on_progress: ProgressCallback | None,
    ) -> int:
        names = ("company", *columns, "import_run_id")
        written = 0
        try:
            if self.is_postgres:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                    write = copy.write_row
                    for batch in batches:
                        for row in batch:
                            write((company, *row, run_id))
                        written += len(batch)
                        if on_progress:
                            on_progress(written)
            else:
                sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
                for batch in batches:
                    if batch:  # the driver reads an empty parameter list as one statement without parameters
                        conn.exec_driver_sql(sql, [(company, *row, run_id) for row in batch])
                    written += len(batch)
                    if on_progress:
                        on_progress(written)
        except Exception as exc:
            if _is_integrity_error(exc):
                raise LoadError(f"company '{company}': table {table}: the source sent the same id twice "
                                f"({_first_line(exc)}); nothing was changed") from exc
            raise
        return written

    def _log(self, conn: Connection, company: str, dataset: str, run_id: str, window: Window | None,
             result: LoadResult, mode: str | None = None) -> None:
        conn.execute(insert(import_log).values(
            company=company, dataset=dataset, run_id=run_id, mode=mode or (FULL if window is None else WINDOW),
            window_start=window.start if window else None, window_end=window.end if window else None,
            rows_deleted=result.rows_deleted, rows_written=result.rows_written, seconds=round(result.seconds, 3)))

    # -- companies -----------------------------------------------------------------

    def upsert_company(self, key: str, *, connection: str, erp_id: str, name: str, client: str,
                       organization_number: str | None = None) -> None:
        with self.engine.begin() as conn:
            _write_company(conn, key, CompanyRow(connection, erp_id, name, client, organization_number))

    def mark_not_updated(self, keys: Iterable[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(companies).where(companies.c.company.in_(list(keys))).values(updated="no"))

    def delete_company(self, key: str) -> int:
        """Remove every row of a company, in one transaction; returns postings removed."""
        with self.engine.begin() as conn:
            removed = conn.execute(delete(gl_postings).where(gl_postings.c.company == key)).rowcount
            for table in (*dimension_tables.values(), project_transactions, budgets, companies, import_log):
                conn.execute(delete(table).where(table.c.company == key))
        return removed

    def rename_company(self, old: str, new: str, *, connection: str) -> None:
        with self.engine.begin() as conn:
            for table in (gl_postings, *dimension_tables.values(), project_transactions, budgets, import_log):
                conn.execute(update(table).where(table.c.company == old).values(company=new))
            conn.execute(update(companies).where(companies.c.company == old)
                         .values(company=new, connection=connection))

    # -- reading, for checks and status -----------------------------------------------

    def count_postings(self, company: str, window: Window | None = None) -> int:
        query = select(func.count()).select_from(gl_postings).where(gl_postings.c.company == company)
        if window is not None:
            query = query.where(gl_postings.c.voucher_date >= window.start, gl_postings.c.voucher_date < window.end)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def unbalanced_vouchers(self, company: str, window: Window | None = None, limit: int = 20) -> list[tuple]:
        """Vouchers whose postings do not sum to zero (to the cent)."""
        total = func.sum(gl_postings.c.amount)
        query = (select(gl_postings.c.voucher_number, gl_postings.c.voucher_date, total)
                 .where(gl_postings.c.company == company)
                 .group_by(gl_postings.c.voucher_number, gl_postings.c.voucher_date)
                 .having(func.abs(total) > 0.005).limit(limit))
        if window is not None:
            query = query.where(gl_postings.c.voucher_date >= window.start, gl_postings.c.voucher_date < window.end)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def last_loads(self) -> dict[tuple[str, str], dict]:
        """The latest load per (company, dataset)."""
        latest = (select(import_log.c.company, import_log.c.dataset, func.max(import_log.c.id).label("id"))
                  .group_by(import_log.c.company, import_log.c.dataset).subquery())
        query = select(import_log).join(latest, import_log.c.id == latest.c.id)
        with self.engine.connect() as conn:
            return {(r.company, r.dataset): dict(r._mapping) for r in conn.execute(query)}

    def companies_held(self, keys: Iterable[str]) -> set[str]:
        """The companies of ``keys`` the warehouse holds rows of: a ``companies`` row or postings."""
        keys = list(keys)
        if not keys:
            return set()
        query = select(companies.c.company).where(companies.c.company.in_(keys)).union(
            select(gl_postings.c.company).where(gl_postings.c.company.in_(keys)).distinct())
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def company_rows(self) -> dict[str, int]:
        query = select(gl_postings.c.company, func.count()).group_by(gl_postings.c.company)
        with self.engine.connect() as conn:
            return {company: int(n) for company, n in conn.execute(query)}


def _write_company(conn: Connection, key: str, row: CompanyRow) -> None:
    conn.execute(delete(companies).where(companies.c.company == key))
    conn.execute(insert(companies).values(company=key, connection=row.connection, erp_id=row.erp_id, name=row.name,
                                          client=row.client, organization_number=row.organization_number,
                                          updated="yes"))


def _refuse_emptying(company: str, table: str, load: str, deleted: int, written: int) -> None:
    if deleted and not written:
        raise ShrinkRefused(
            f"company '{company}': table {table}: the source sent no rows, so this {load} would delete all "
            f"{deleted:,} existing rows and write none; refused, nothing was changed. Check the connection's "
            "options and the ERP user's access first; if the company really has no such rows any more, re-run "
            "with `allow_shrink: true` in the run config.")


def _inside(company: str, window: Window, batches: Iterable[Batch]) -> Iterator[Batch]:
    """Refuse rows dated outside the window: they would escape the window's replace."""
    start, end = window.start.isoformat(), window.end.isoformat()
    for batch in batches:
        if batch:
            dates = [row[2] for row in batch]
            low, high = min(dates), max(dates)
            if low < start or high >= end:
                bad = low if low < start else high
                raise LoadError(f"company '{company}': field 'voucher_date': the source returned a posting "
                                f"dated {bad}, outside the requested window {window}; nothing was changed")
        yield batch


def _is_integrity_error(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in ("IntegrityError", "UniqueViolation") or "UNIQUE constraint failed" in str(exc)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]

