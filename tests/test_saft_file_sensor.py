"""The ``saft_files`` sensor: a new or changed SAF-T file imports its company; an untouched one (whatever its
timestamp says) does not. Evaluated in process, its run executed as the daemon would execute it."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from dagster import DagsterInstance, SensorResult, build_sensor_context, instance_for_test

from osr_pipelines.definitions import build_definitions
from osr_pipelines.partitions import company_partitions
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import CONNECTION_TAG
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import write_registry
from tests.connectors.test_saft_file import ORG, saft_file
from tests.helpers import run_request

KEY = f"files.{ORG}"


def tick(instance: DagsterInstance, registry: Path, cursor: str | None) -> SensorResult:
    defs = build_definitions(registry)
    context = build_sensor_context(instance=instance, instance_ref=instance.get_ref(), cursor=cursor, definitions=defs,
                                   resources={"registry": RegistryResource(path=str(registry))})
    return defs.resolve_sensor_def("saft_files").evaluate_tick(context)


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_new_and_changed_files_import_their_company(home: Path, warehouse_url: str) -> None:
    folder = home / "saf-t"
    folder.mkdir()
    first = saft_file(folder / "a.xml", end=date(2025, 6, 30),
                      lines=[("1", 202503, "1920", "-50.00"), ("1", 202503, "3000", "50.00")])
    other = saft_file(folder / "b.xml", org="998877665")
    conn = {"name": "files", "type": "saf-t", "level": "customer", "parent": "Acme",
            "options": {"path": str(folder)}}
    registry = write_registry(home / "registry.yaml", [conn], [("files", ORG), ("files", "998877665")])
    (home / "dagster").mkdir()
    with instance_for_test(temp_dir=str(home / "dagster")) as instance:
        instance.add_dynamic_partitions(company_partitions.name, [KEY, "files.998877665"])
        ticks_and_runs(instance, registry, folder, first, other, warehouse_url)


def ticks_and_runs(instance: DagsterInstance, registry: Path, folder: Path, first: Path, other: Path,
                   warehouse_url: str) -> None:

    # first sight: remembered only (adding the company to the registry started its full import already)
    result = tick(instance, registry, None)
    assert result.run_requests == [] and result.cursor
    # the same content with a new timestamp is no change
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**10))
    result = tick(instance, registry, result.cursor)
    assert result.run_requests == []

    # a new file for the second half of the year: one full import of that company, on its partition
    saft_file(folder / "c.xml", created=date(2026, 1, 20), start=date(2025, 7, 1), end=date(2025, 12, 31),
              lines=[("9", 202511, "1920", "-70.00"), ("9", 202511, "3000", "70.00")])
    result = tick(instance, registry, result.cursor)
    [request] = result.run_requests
    assert request.partition_key == KEY and request.tags[CONNECTION_TAG] == "files"
    assert request.run_config["ops"]["import_company"]["config"]["mode"] == "full"
    assert run_request(instance, "full_import", request)[0]
    wh = Warehouse(warehouse_url)
    assert sorted(r[0] for r in wh.unbalanced_vouchers(KEY)) == []
    assert wh.count_postings(KEY) == 2 + 2 + 2  # two opening balances, March and November
    assert tick(instance, registry, result.cursor).run_requests == []

    # a rewrite that keeps the modification time is seen by its content
    stat = other.stat()
    saft_file(other, org="998877665", lines=[("5", 202505, "1920", "-5.00"), ("5", 202505, "3000", "5.00")])
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = tick(instance, registry, result.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["files.998877665"]
    assert changed.run_requests[0].run_key != request.run_key
