"""The loader's guarantees beyond one happy load: refusing to empty a history, the company row committing
with the postings, one load per company at a time, and a private SQLite file."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text

from osr_pipelines.connectors.base import Batch, Window
from osr_pipelines.warehouse.loader import CompanyRow, LoadResult, ShrinkRefused, Warehouse
from osr_pipelines.warehouse.schema import companies, dimension_tables, gl_postings, import_log

COMPANY = "acme.1001"


def posting(n: int, day: int = 2) -> tuple:
    """Postings in pairs that balance: odd n debits 1920, even n credits 3000, on voucher n // 2."""
    amount = 100.0 if n % 2 else -100.0
    return (f"p{n}", f"v{(n + 1) // 2}", f"2026-01-{day:02d}", 202601, "1920" if n % 2 else "3000", amount,
            "NOK", amount, f"line {n}", None, None, None, None, None, None, None, None)


def everything(wh: Warehouse) -> dict[str, set[tuple]]:
    tables = {"gl_postings": gl_postings, "accounts": dimension_tables["accounts"], "companies": companies,
              "import_log": import_log}
    with wh.engine.connect() as conn:
        return {name: {tuple(map(str, row)) for row in conn.execute(select(table))} for name, table in tables.items()}


@pytest.fixture
def loaded(warehouse_url: str) -> Warehouse:
    """A company with 4 postings (2 on 2 January, 2 on 20 January) and 2 accounts."""
    wh = Warehouse(warehouse_url)
    wh.load_postings(COMPANY, [[posting(1), posting(2)], [posting(3, 20), posting(4, 20)]], window=None, run_id="r1",
                     company_row=CompanyRow("acme", "1001", "Acme AS", "Acme"))
    wh.load_dimension(COMPANY, "accounts", [[("a1", "1920", "Bank", "balance", "19"),
                                             ("a2", "3000", "Sales", "income", "30")]], run_id="r1")
    return wh


def test_full_import_of_nothing_over_a_history_is_refused_and_changes_nothing(loaded: Warehouse) -> None:
    before = everything(loaded)
    with pytest.raises(ShrinkRefused) as refused:
        loaded.load_postings(COMPANY, iter([[]]), window=None, run_id="r2")
    message = str(refused.value)
    assert f"company '{COMPANY}'" in message and "table gl_postings" in message
    assert "delete all 4 existing rows" in message and "`allow_shrink: true`" in message
    assert everything(loaded) == before


def test_dimension_import_of_nothing_over_rows_is_refused_and_changes_nothing(loaded: Warehouse) -> None:
    before = everything(loaded)
    with pytest.raises(ShrinkRefused, match=rf"company '{COMPANY}': table accounts: .* delete all 2 existing rows"):
        loaded.load_dimension(COMPANY, "accounts", [], run_id="r2")
    assert everything(loaded) == before


def test_emptying_is_done_when_asked_for(loaded: Warehouse) -> None:
    result = loaded.load_postings(COMPANY, [], window=None, run_id="r2", allow_shrink=True)
    assert (result.rows_before, result.rows_written, result.shrink_ratio) == (4, 0, 1.0)
    assert loaded.count_postings(COMPANY) == 0
    assert loaded.load_dimension(COMPANY, "accounts", [], run_id="r2", allow_shrink=True).rows_before == 2
    assert loaded.last_loads()[(COMPANY, "accounts")]["rows_written"] == 0


def test_an_empty_window_is_a_legitimate_load_and_reports_the_drop(loaded: Warehouse) -> None:
    """Vouchers deleted in the ERP leave exactly this: rows in the window before, none now."""
    result = loaded.load_postings(COMPANY, [], window=Window(date(2026, 1, 15), date(2026, 2, 1)), run_id="r2")
    assert (result.rows_before, result.rows_written, result.shrink_ratio) == (2, 0, 1.0)
    assert loaded.count_postings(COMPANY) == 2


def test_first_import_of_an_empty_company_is_not_a_shrink(warehouse_url: str) -> None:
    result = Warehouse(warehouse_url).load_postings("acme.new", [], window=None, run_id="r1")
    assert result == LoadResult(0, 0, result.seconds) and result.shrink_ratio == 0.0


def test_company_row_commits_with_the_postings_or_not_at_all(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    row = CompanyRow("acme", "1002", "Acme Two AS", "Acme", organization_number="987654321")

    def source_failing_halfway() -> Iterator[Batch]:
        yield [posting(1), posting(2)]
        raise ConnectionError("the ERP closed the connection")

    with pytest.raises(ConnectionError):
        wh.load_postings("acme.1002", source_failing_halfway(), window=None, run_id="r1", company_row=row)
    assert everything(wh) == {"gl_postings": set(), "accounts": set(), "companies": set(), "import_log": set()}

    wh.load_postings("acme.1002", [[posting(1), posting(2)]], window=None, run_id="r2", company_row=row)
    with wh.engine.connect() as conn:
        stored = conn.execute(select(companies).where(companies.c.company == "acme.1002")).one()._asdict()
    assert stored == {"company": "acme.1002", "connection": "acme", "erp_id": "1002", "name": "Acme Two AS",
                      "client": "Acme", "updated": "yes", "organization_number": "987654321"}


def _other_load_is_waiting(wh: Warehouse) -> bool:
    """PostgreSQL shows a backend waiting for a lock; SQLite's busy wait is invisible, so give it a moment."""
    if not wh.is_postgres:
        time.sleep(0.5)
        return True
    with wh.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND wait_event_type = 'Lock'")).scalar())


def test_two_loads_of_one_company_at_once_run_one_after_the_other(warehouse_url: str) -> None:
    rows = [posting(n) for n in range(1, 201)]
    first_started, second_done = threading.Event(), threading.Event()
    probe = Warehouse(warehouse_url)
    results: list[LoadResult] = []
    errors: list[BaseException] = []

    def first_source() -> Iterator[Batch]:
        yield rows[:100]
        first_started.set()
        deadline = time.monotonic() + 30
        while not (second_done.is_set() or _other_load_is_waiting(probe)) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield rows[100:]

    def load(source: Iterator[Batch] | list[Batch], done: threading.Event | None = None) -> None:
        try:
            results.append(Warehouse(warehouse_url).load_postings(COMPANY, source, window=None, run_id="r"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            if done is not None:
                done.set()

    first = threading.Thread(target=load, args=(first_source(),))
    second = threading.Thread(target=load, args=([rows[:100], rows[100:]], second_done))
    first.start()
    assert first_started.wait(30)
    second.start()
    first.join(60)
    second.join(60)
    assert errors == []
    assert [(r.rows_deleted, r.rows_written) for r in results] == [(0, 200), (200, 200)]
    assert probe.count_postings(COMPANY) == 200
    assert len(probe.last_loads()) == 1 and probe.unbalanced_vouchers(COMPANY) == []


def test_sqlite_warehouse_and_its_companions_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "home" / "data" / "warehouse.db"
        wh = Warehouse(f"sqlite:///{path}")
        wh.load_postings(COMPANY, [[posting(1), posting(2)]], window=None, run_id="r1")
        # The pool keeps the connection open, so the -wal and -shm files are still there.
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        assert modes == {"warehouse.db": 0o600, "warehouse.db-wal": 0o600, "warehouse.db-shm": 0o600}
        assert [stat.S_IMODE(d.stat().st_mode) for d in (path.parent, path.parent.parent)] == [0o700, 0o700]
        wh.dispose()
    finally:
        os.umask(old_umask)
