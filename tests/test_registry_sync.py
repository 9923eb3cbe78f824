"""The registry sensor in-process: batched full imports, and a damaged registry never emptying Dagster.

The same behaviours through the real daemon are in ``test_registry_safety_daemon.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetPartitionStatus, DagsterInstance

from osr_pipelines import removal_guard
from osr_pipelines.instance import get_instance
from osr_pipelines.partitions import company_partitions
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr, run_request, tick

RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
MANY = [f"many.{i}" for i in range(101, 113)]  # twelve companies: batches of 10 and 2


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'warehouse.db'}"


@pytest.fixture
def sqlite_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home for what involves no warehouse rows: one backend is enough."""
    for name, value in {"OSR_HOME": tmp_path, "OSR_REGISTRY": tmp_path / "registry.yaml",
                        "OSR_WAREHOUSE_URL": sqlite_url(tmp_path), "DAGSTER_HOME": tmp_path / "dagster"}.items():
        monkeypatch.setenv(name, str(value))
    return tmp_path


def registry_of(home: Path, companies: list[str]) -> Path:
    """Connections ``many`` (twelve companies in its source) and ``solo`` (one); ``companies`` registered."""
    many = synthetic_connection("many", companies=",".join(k.split(".")[1] for k in MANY), postings="60",
                                years="1")
    solo = synthetic_connection("solo", companies="7", postings="60", years="1")
    return write_registry(home / "registry.yaml", [many, solo], [tuple(k.split(".")) for k in companies])


def partitions(instance: DagsterInstance) -> list[str]:
    return instance.get_dynamic_partitions(company_partitions.name)


def test_new_companies_full_imports_go_in_batches(home: Path, warehouse_url: str, pg_instance) -> None:
    registry = registry_of(home, ["solo.7"])
    [single] = tick(pg_instance, registry, warehouse_url, cursor=None).run_requests
    # a batch of one stays a single-partition run: the queue's one-import-per-company limit covers it
    assert single.partition_key == "solo.7" and single.tags["dagster/partition"] == "solo.7"
    assert single.tags["osr/connection"] == "solo" and single.run_config == {
        "ops": {"import_company": {"config": {"mode": "full"}}}}

    registry_of(home, ["solo.7", *MANY])
    first = tick(pg_instance, registry, warehouse_url, cursor="1")
    assert partitions(pg_instance) == ["solo.7", *MANY]  # existing partitions, then the new ones
    assert [(r.partition_key, r.tags["osr/connection"], r.tags[RANGE[0]], r.tags[RANGE[1]])
            for r in first.run_requests] == [(None, "many", "many.101", "many.110"),
                                             (None, "many", "many.111", "many.112")]
    assert all(r.run_config == single.run_config for r in first.run_requests)
    assert first.cursor == "2"

    # The same tick evaluated again (its partitions not yet added) asks for the same run keys,
    # which the daemon launches once; a later tick's imports get keys of their own.
    for key in MANY:
        pg_instance.delete_dynamic_partition(company_partitions.name, key)
    again = tick(pg_instance, registry, warehouse_url, cursor="1")
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]
    assert len({r.run_key for r in first.run_requests} | {single.run_key}) == 3
    assert tick(pg_instance, registry, warehouse_url, cursor="2").run_requests == []

    for request in [single, *first.run_requests]:
        ok, _ = run_request(pg_instance, "full_import", request)
        assert ok
    status = pg_instance.get_status_by_partition(AssetKey("gl_postings"), ["solo.7", *MANY], company_partitions)
    assert set(status.values()) == {AssetPartitionStatus.MATERIALIZED}, status
    wh = Warehouse(warehouse_url)
    assert all(wh.count_postings(key) > 0 for key in ["solo.7", *MANY])


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# everything was here\n", "---\n", "{}\n"],
                         ids=["empty", "blank-lines", "blanks", "comment", "empty-document", "empty-mapping"])
def test_an_empty_registry_file_changes_nothing(sqlite_home: Path, pg_instance, text: str) -> None:
    url = sqlite_url(sqlite_home)
    registry = registry_of(sqlite_home, ["solo.7", "many.101", "many.102"])
    tick(pg_instance, registry, url)
    registry.write_text(text)
    result = tick(pg_instance, registry, url)
    assert not result.run_requests and not result.dynamic_partitions_requests
    assert partitions(pg_instance) == ["many.101", "many.102", "solo.7"]
    assert "no partition added or removed" in result.skip_message and "is empty" in result.skip_message, \
        result.skip_message
    assert str(registry) in result.skip_message


def test_losing_many_companies_waits_for_a_confirmation(home: Path, warehouse_url: str) -> None:
    instance = get_instance()
    five = ["solo.7", *MANY[:4]]
    registry = registry_of(home, five)
    tick(instance, registry, warehouse_url)

    registry_of(home, five[:2])  # three of five gone: more than 2, and more than 10%
    result = tick(instance, registry, warehouse_url)
    assert not result.dynamic_partitions_requests and partitions(instance) == sorted(five)
    message = result.skip_message
    assert "holding back the removal of 3 of 5 company partitions" in message, message
    assert "many.102, many.103, many.104" in message and "`osr sync confirm-removal`" in message, message
    assert removal_guard.held(instance).keys == ("many.102", "many.103", "many.104")

    # The registry restored: nothing is held back any more.
    registry_of(home, five)
    tick(instance, registry, warehouse_url)
    assert removal_guard.held(instance) is None
    assert "nothing to confirm" in osr("sync", "confirm-removal", "--yes").output

    # Meant this time: the person confirms from their shell; the partitions go, the rows stay.
    registry_of(home, five[:2])
    tick(instance, registry, warehouse_url)
    confirmed = osr("sync", "confirm-removal", input="y\n").output
    assert "these 3 of 5 companies" in confirmed and "  many.103\n" in confirmed, confirmed
    assert "removed 3 company partitions" in confirmed, confirmed
    assert partitions(instance) == sorted(five[:2]) and removal_guard.held(instance) is None
    assert tick(instance, registry, warehouse_url).dynamic_partitions_requests == []

    # Two partitions at a time go without asking, whatever their share.
    registry_of(home, [])
    tick(instance, registry, warehouse_url)
    assert partitions(instance) == [] and removal_guard.held(instance) is None


def test_the_share_is_configured_by_environment(sqlite_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_url(sqlite_home)
    instance = get_instance()
    registry = registry_of(sqlite_home, MANY[:4])
    tick(instance, registry, url)
    registry_of(sqlite_home, MANY[:1])
    monkeypatch.setenv("OSR_SYNC_MAX_REMOVE_SHARE", "0.75")  # 3 of 4 is not more than 75%
    tick(instance, registry, url)
    assert partitions(instance) == MANY[:1]

    monkeypatch.setenv("OSR_SYNC_MAX_REMOVE_SHARE", "ten percent")
    with pytest.raises(Exception, match="OSR_SYNC_MAX_REMOVE_SHARE must be a number from 0 to 1"):
        tick(instance, registry, url)


def test_a_company_back_in_the_registry_is_not_imported_again(home: Path, warehouse_url: str,
                                                              pg_instance) -> None:
    registry = registry_of(home, ["solo.7", "many.101"])
    for request in tick(pg_instance, registry, warehouse_url).run_requests:
        assert run_request(pg_instance, "full_import", request)[0]
    wh = Warehouse(warehouse_url)
    rows = wh.count_postings("solo.7")
    assert rows > 0

    registry_of(home, ["many.101"])  # solo.7 lost from the registry, say by a bad merge
    tick(pg_instance, registry, warehouse_url)
    assert partitions(pg_instance) == ["many.101"]

    # Restored, with a new company beside it: only the new company is imported in full.
    registry_of(home, ["solo.7", "many.101", "many.102"])
    result = tick(pg_instance, registry, warehouse_url)
    assert partitions(pg_instance) == ["many.101", "many.102", "solo.7"]
    assert [r.partition_key for r in result.run_requests] == ["many.102"]
    assert wh.count_postings("solo.7") == rows

    # A company removed with its data (`osr company remove`) and added again is imported again.
    wh.delete_company("many.101")
    pg_instance.delete_dynamic_partition(company_partitions.name, "many.101")
    assert [r.partition_key for r in tick(pg_instance, registry, warehouse_url).run_requests] == ["many.101"]


def test_one_connections_new_companies_form_one_range(sqlite_home: Path, pg_instance) -> None:
    """New partitions are added sorted by key, whatever the registry's order, so a connection's stay together."""
    registry = registry_of(sqlite_home, ["many.101", "solo.7", "many.102"])
    data = yaml.safe_load(registry.read_text())
    assert [c["erp_id"] for c in data["companies"]] == ["101", "7", "102"]
    [batch, single] = tick(pg_instance, registry, sqlite_url(sqlite_home)).run_requests
    assert (batch.tags[RANGE[0]], batch.tags[RANGE[1]]) == ("many.101", "many.102")
    assert single.partition_key == "solo.7"
