"""The nightly adds 24SevenOffice lines changed since the last run but dated before its window (DateChangedUTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_sandbox.erps import SANDBOXES
from osr_sandbox.server import running
from tests.conftest import write_registry
from tests.helpers import source_rows, warehouse_rows


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_nightly_adds_lines_changed_back_dated_since_the_last_run(home: Path, warehouse_url: str, pg_instance,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    books = SyntheticBooks(company_ids=("2001",), postings=1500, years=2, mutations_path=home / "books.json")
    sandbox = SANDBOXES["24sevenoffice"]
    app = sandbox.app(books, None, {})
    back_dated = next(d for d in (books.end - timedelta(days=n) for n in range(60, 90))
                      if source_rows(books, "2001", Window(d, d + timedelta(days=1))))
    wh = Warehouse(warehouse_url)
    with running(app) as base:
        options, credentials = sandbox.login(base, books, {})
        for field, value in credentials.items():
            monkeypatch.setenv(f"SRC_{field.upper()}", value)
        conn = {"name": "src", "type": "24sevenoffice", "level": "customer", "parent": "Acme", "options": options,
                "credentials": {field: f"SRC_{field.upper()}" for field in credentials}}
        write_registry(home / "registry.yaml", [conn], [("src", "2001")])
        assert [o.status for o in run_imports(pg_instance, "full", ["src.2001"])] == ["SUCCESS"]
        day = Window(back_dated, back_dated + timedelta(days=1))
        before = warehouse_rows(wh, "src.2001", day)

        # Lines of two months ago are corrected now, outside the nightly's days.
        books.edit_day("2001", back_dated)
        app.state.touch("2001", back_dated.isoformat(), datetime.now(UTC) + timedelta(minutes=1))
        [nightly] = run_imports(pg_instance, "nightly", ["src.2001"])
        searches = app.state.calls["GetTransactions"]
    assert nightly.status == "SUCCESS", nightly.error
    after = warehouse_rows(wh, "src.2001", day)
    assert after == source_rows(books, "2001", day) and after != before
    everything = Window(date(2000, 1, 1), books.end + timedelta(days=1))
    assert warehouse_rows(wh, "src.2001") == source_rows(books, "2001", everything)
    assert searches >= 3  # the full import's, the nightly window's and the DateChangedUTC search
