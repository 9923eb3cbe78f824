"""Registry → sensor → partitions and full-import runs → real Dagster runs → warehouse equals the source."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.partitions import company_partitions
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import run_request, source_rows, tick, warehouse_rows

EVERYTHING = Window(date(2000, 1, 1), date.today() + timedelta(days=1))


def test_new_companies_get_partitions_and_full_imports(home: Path, warehouse_url: str, pg_instance) -> None:
    conn = synthetic_connection(state=home / "books.json")
    registry = write_registry(home / "registry.yaml", [conn], [("demo", "1001"), ("demo", "1002")])

    result = tick(pg_instance, registry, warehouse_url)

    assert sorted(pg_instance.get_dynamic_partitions(company_partitions.name)) == ["demo.1001", "demo.1002"]
    # one connection's new companies are one batch: a run over the range of their partitions
    [request] = result.run_requests
    assert request.tags["osr/connection"] == "demo" and request.partition_key is None
    assert (request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"]) == ("demo.1001", "demo.1002")
    ok, _ = run_request(pg_instance, "full_import", request)
    assert ok

    books = books_from_options(conn["options"])
    wh = Warehouse(warehouse_url)
    for erp_id in ("1001", "1002"):
        expected = source_rows(books, erp_id, EVERYTHING)
        assert len(expected) > 1500
        assert warehouse_rows(wh, f"demo.{erp_id}") == expected
        assert wh.unbalanced_vouchers(f"demo.{erp_id}") == []
    assert wh.last_loads()[("demo.1001", "accounts")]["rows_written"] == 35

    # The next tick finds nothing new: no second full import.
    assert tick(pg_instance, registry, warehouse_url).run_requests == []


def test_asset_checks_and_metadata_recorded(home: Path, warehouse_url: str, pg_instance) -> None:
    conn = synthetic_connection(state=home / "books.json", companies="1001")
    registry = write_registry(home / "registry.yaml", [conn], [("demo", "1001")])
    [request] = tick(pg_instance, registry, warehouse_url).run_requests
    ok, run_id = run_request(pg_instance, "full_import", request)
    assert ok
    from dagster import AssetKey, DagsterEventType

    checks = {(e.dagster_event.event_specific_data.check_name, e.dagster_event.event_specific_data.partition):
              e.dagster_event.event_specific_data.passed
              for e in pg_instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)}
    # each company's checks are its own partition's
    assert checks == {("vouchers_balance", "demo.1001"): True, ("row_count_matches_source", "demo.1001"): True,
                      ("dimensions_resolve", "demo.1001"): True, ("no_large_drop", "demo.1001"): True}
    [materialization] = [e.asset_materialization for e in
                         pg_instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
                         if e.asset_materialization.asset_key == AssetKey("gl_postings")]
    assert materialization.partition == "demo.1001"
    assert materialization.metadata["rows_written"].value == Warehouse(warehouse_url).count_postings("demo.1001")
    assert materialization.metadata["mode"].value == "full"


def test_consolidated_clients_get_their_partitions(home: Path, warehouse_url: str, pg_instance) -> None:
    from osr_pipelines.partitions import client_partitions

    registry = write_registry(home / "registry.yaml", [synthetic_connection()], [("demo", "1001")])
    (home / "consolidation.yaml").write_text("clients:\n  Client demo.1001:\n    currency: NOK\n    rates: r.csv\n")
    tick(pg_instance, registry, warehouse_url)
    assert pg_instance.get_dynamic_partitions(client_partitions.name) == ["Client demo.1001"]

    (home / "consolidation.yaml").write_text("clients: {}\n")
    tick(pg_instance, registry, warehouse_url)
    assert pg_instance.get_dynamic_partitions(client_partitions.name) == []
