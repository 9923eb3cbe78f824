"""Window refreshes replace exactly the window; failures leave the previous data as it was."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from dagster import DagsterInstance

from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import all_rows_with_run, source_rows, warehouse_rows


def _import(instance: DagsterInstance, registry: Path, kind: str, keys: list[str]) -> list:
    return run_imports(instance, kind, keys)


def test_nightly_refresh_matches_source_and_is_idempotent(home: Path, warehouse_url: str, pg_instance) -> None:
    conn = synthetic_connection(state=home / "books.json", companies="1001")
    registry = write_registry(home / "registry.yaml", [conn], [("demo", "1001")])
    [full] = _import(pg_instance, registry, "full", ["demo.1001"])
    assert full.status == "SUCCESS", full.error

    today = today_in_oslo()
    window = Window.last_days(5, today)
    books = books_from_options(conn["options"])
    wh = Warehouse(warehouse_url)
    outside_day = today - timedelta(days=30)
    outside = Window(outside_day, outside_day + timedelta(days=1))
    before_outside = all_rows_with_run(wh, "demo.1001") - all_rows_with_run_in(wh, window)

    books.edit_day("1001", today - timedelta(days=1))
    books.delete_voucher("1001", today - timedelta(days=2), 0)
    books.delete_voucher("1001", window.start, 1)  # first day of the window (edge)
    books.edit_day("1001", outside_day)  # back-dated change outside the nightly window
    books = books_from_options(conn["options"])
    assert source_rows(books, "1001", window) != warehouse_rows(wh, "demo.1001", window)

    [nightly] = _import(pg_instance, registry, "nightly", ["demo.1001"])
    assert nightly.status == "SUCCESS", nightly.error
    assert warehouse_rows(wh, "demo.1001", window) == source_rows(books, "1001", window)
    # Outside the window nothing was touched, not even the run id; the back-dated edit waits for ytd.
    assert all_rows_with_run(wh, "demo.1001") - all_rows_with_run_in(wh, window) == before_outside
    assert warehouse_rows(wh, "demo.1001", outside) != source_rows(books, "1001", outside)
    assert wh.unbalanced_vouchers("demo.1001") == []

    snapshot = warehouse_rows(wh, "demo.1001")
    [again] = _import(pg_instance, registry, "nightly", ["demo.1001"])
    assert again.status == "SUCCESS"
    assert warehouse_rows(wh, "demo.1001") == snapshot
    assert wh.count_postings("demo.1001") == len(snapshot)

    [ytd] = _import(pg_instance, registry, "ytd", ["demo.1001"])
    assert ytd.status == "SUCCESS"
    if outside_day.year == today.year:
        assert warehouse_rows(wh, "demo.1001", outside) == source_rows(books, "1001", outside)


def all_rows_with_run_in(wh: Warehouse, window: Window) -> set[tuple]:
    return {row for row in all_rows_with_run(wh, "demo.1001")
            if window.start.isoformat() <= row[3][:10] < window.end.isoformat()}


def test_source_failing_halfway_leaves_previous_data(home: Path, warehouse_url: str, pg_instance) -> None:
    conn = synthetic_connection(state=home / "books.json", companies="1001", batch_size="500")
    registry = write_registry(home / "registry.yaml", [conn], [("demo", "1001")])
    [full] = _import(pg_instance, registry, "full", ["demo.1001"])
    assert full.status == "SUCCESS"
    wh = Warehouse(warehouse_url)
    before = all_rows_with_run(wh, "demo.1001")

    data = yaml.safe_load(registry.read_text())
    data["connections"][0]["options"]["fail_after_rows"] = "1000"
    registry.write_text(yaml.safe_dump(data))
    [failed] = _import(pg_instance, registry, "full", ["demo.1001"])

    assert failed.status == "FAILURE"
    assert failed.error.startswith("connection 'demo', ERP company '1001': source failed after ")
    # the dimensions' loads committed before the postings' failed: the message says what changed and what did not
    assert failed.error.endswith("(company 'demo.1001'; the load under way was rolled back, its previous rows "
                                 "unchanged; accounts, departments, projects, customers, suppliers had been imported "
                                 "and stay)"), failed.error
    assert all_rows_with_run(wh, "demo.1001") == before
