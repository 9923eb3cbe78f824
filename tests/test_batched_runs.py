"""A run over a batch of companies: each company is its own partition's materialization, check and failure.

The nightly schedule runs a connection's companies in batches (a range of
partitions per run). One company failing must not fail, roll back or hide the
others; its partition alone shows failed and it can be retried alone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from dagster import AssetKey, AssetPartitionStatus, DagsterEventType, DagsterInstance, DagsterRunStatus

from osr_pipelines.assets.windows import OSLO
from osr_pipelines.partitions import company_partitions
from osr_pipelines.runner import company_failure
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import run_request
from tests.test_schedules import evaluate

KEYS = ["books.1", "books.2", "books.3", "books.4", "books.5", "books.6", "books.7", "books.8"]


def books_registry(home: Path, in_source: str) -> Path:
    """Eight registered companies of one connection; the source holds only those in ``in_source``."""
    conn = synthetic_connection("books", companies=in_source, postings="300", years="1")
    return write_registry(home / "registry.yaml", [conn], [("books", k.split(".")[1]) for k in KEYS])


def nightly_batches(instance: DagsterInstance, registry: Path) -> list:
    instance.add_dynamic_partitions(company_partitions.name, KEYS)
    return evaluate(instance, registry, "nightly_imports", datetime.now(OSLO))


def statuses(instance: DagsterInstance, asset: str) -> dict[str, AssetPartitionStatus]:
    return instance.get_status_by_partition(AssetKey(asset), KEYS, company_partitions)


def test_one_failing_company_in_a_batch_fails_alone(home: Path, warehouse_url: str, pg_instance,
                                                    open_warehouse) -> None:
    registry = books_registry(home, in_source="1,2,4,5,6,7,8")  # books.3 is not in the source
    requests = nightly_batches(pg_instance, registry)
    # 8 companies of one connection: one run (a batch is split for parallel readers from 10 companies on)
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in requests] == [("books.1", "books.8")]
    results = [run_request(pg_instance, "nightly_import", r) for r in requests]
    assert [ok for ok, _ in results] == [False]

    failed_run = results[0][1]
    assert pg_instance.get_run_by_id(failed_run).status == DagsterRunStatus.FAILURE
    reason = company_failure(pg_instance, failed_run, "books.3")
    assert reason is not None and "no such company in the source" in reason and "books.3" in reason, reason
    assert company_failure(pg_instance, failed_run, "books.4") is None

    wh = open_warehouse(warehouse_url)
    assert wh.count_postings("books.3") == 0
    for key in set(KEYS) - {"books.3"}:
        assert wh.count_postings(key) > 0, key

    for asset in ("gl_postings", "accounts", "customers"):
        status = statuses(pg_instance, asset)
        assert status["books.3"] == AssetPartitionStatus.FAILED, asset
        assert {k for k, s in status.items() if s == AssetPartitionStatus.MATERIALIZED} == set(KEYS) - {"books.3"}

    # every imported company has its own check results, logged in its batch's run
    checks = {}
    for _, run_id in results:
        for entry in pg_instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            data = entry.dagster_event.event_specific_data
            checks[(data.partition, data.check_name)] = data.passed
    assert {p for p, _ in checks} == set(KEYS) - {"books.3"}
    assert all(checks.values()) and len(checks) == 7 * 4

    # Fixed at the source, the failed company is retried alone: a single-partition run.
    books_registry(home, in_source="1,2,3,4,5,6,7,8")
    [batch] = evaluate(pg_instance, registry, "nightly_imports", datetime.now(OSLO))
    ok, _ = run_request(pg_instance, "nightly_import",
                        batch.with_replaced_attrs(partition_key="books.3", tags={"osr/connection": "books"}))
    assert ok
    assert wh.count_postings("books.3") > 0
    assert set(statuses(pg_instance, "gl_postings").values()) == {AssetPartitionStatus.MATERIALIZED}


def test_a_company_being_imported_elsewhere_is_left_alone(home: Path, pg_database, monkeypatch, pg_instance,
                                                         open_warehouse) -> None:
    url = pg_database("lease")
    monkeypatch.setenv("OSR_WAREHOUSE_URL", url)
    registry = books_registry(home, in_source="1,2,3,4,5,6,7,8")
    [first] = nightly_batches(pg_instance, registry)
    wh = open_warehouse(url)
    with wh.company_lease("books.2") as free:  # another import of books.2 holds its lease
        assert free
        ok, run_id = run_request(pg_instance, "nightly_import", first)
    assert not ok
    assert "another import of it is running" in (company_failure(pg_instance, run_id, "books.2") or "")
    assert wh.count_postings("books.1") > 0 and wh.count_postings("books.2") == 0
    assert wh.count_postings("books.8") > 0
    with wh.company_lease("books.2") as free:
        assert free  # released by the run's end and by ours


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_an_unexpected_error_in_one_company_spares_the_rest_of_its_batch(home: Path, warehouse_url: str, pg_instance,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        open_warehouse) -> None:
    registry = books_registry(home, in_source="1,2,3,4,5,6,7,8")
    load_dimension = Warehouse.load_dimension

    def defect_in_books_5(self: Warehouse, company: str, *args, **kwargs):  # a bug met in one company's data
        if company == "books.5":
            raise ZeroDivisionError("division by zero")
        return load_dimension(self, company, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "load_dimension", defect_in_books_5)
    [batch] = nightly_batches(pg_instance, registry)
    ok, run_id = run_request(pg_instance, "nightly_import", batch)
    assert not ok
    reason = company_failure(pg_instance, run_id, "books.5") or ""
    assert "unexpected ZeroDivisionError: division by zero" in reason, reason
    wh = open_warehouse(warehouse_url)
    assert wh.count_postings("books.5") == 0
    assert all(wh.count_postings(k) > 0 for k in KEYS if k != "books.5")
    assert statuses(pg_instance, "gl_postings")["books.5"] == AssetPartitionStatus.FAILED
