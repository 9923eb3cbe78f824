"""The registry sensor through the real daemon and the shipped ``deploy/dagster.yaml`` on PostgreSQL.

One daemon start covers, in order: new companies' full imports launched as
ranged batch runs; a truncated registry that changes nothing; a large removal
held back until ``osr sync confirm-removal``; and companies coming back into
the registry re-added without a second full import. Each step waits for the
sensor's next tick (every 30 s) by its line in the daemon's log.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from dagster import AssetKey, AssetPartitionStatus, DagsterInstance, RunsFilter

from osr_pipelines.partitions import company_partitions
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.test_production_path import BIN, DONE, daemon, wait_until

MANY = [f"many.{i}" for i in range(101, 113)]  # twelve companies: batches of 10 and 2
RANGE = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def registry_of(path: Path, keys: list[str]) -> None:
    many = synthetic_connection("many", companies=",".join(str(i) for i in range(101, 114)), postings="60",
                                years="1")
    solo = synthetic_connection("solo", companies="7", postings="60", years="1")
    write_registry(path, [many, solo], [tuple(k.split(".")) for k in keys])


def test_daemon_batches_imports_and_a_damaged_registry_never_empties_dagster(production_env: dict[str, str],
                                                                             tmp_path: Path) -> None:
    env, registry, log = production_env, tmp_path / "registry.yaml", tmp_path / "daemon.log"
    everyone = ["solo.7", *MANY]
    registry_of(registry, everyone)
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])

    def partitions() -> list[str]:
        return sorted(instance.get_dynamic_partitions(company_partitions.name))

    def full_imports() -> list:
        return instance.get_runs(RunsFilter(job_name="full_import"))

    def logged(text: str) -> bool:
        return text in log.read_text(errors="replace")

    with daemon(env, log):
        # 1. Thirteen new companies: one run for solo's one, two ranged runs for many's twelve.
        wait_until(lambda: len(full_imports()) == 3 and all(r.status in DONE for r in full_imports()), 300,
                   "the sensor's full imports", instance)
        runs = full_imports()
        assert sorted((r.tags.get(RANGE[0], ""), r.tags.get(RANGE[1], ""), r.tags.get("dagster/partition", ""))
                      for r in runs) == [("", "", "solo.7"), ("many.101", "many.110", ""), ("many.111", "many.112", "")]
        status = instance.get_status_by_partition(AssetKey("gl_postings"), everyone, company_partitions)
        assert set(status.values()) == {AssetPartitionStatus.MATERIALIZED}, status
        wh = Warehouse(env["OSR_WAREHOUSE_URL"])
        rows = {key: wh.count_postings(key) for key in everyone}
        assert all(rows.values()), rows

        # 2. The registry truncated by a bad write: the next tick removes nothing, and says why.
        registry.write_text("")
        wait_until(lambda: logged("the registry cannot be loaded"), 120, "the tick on the empty registry")
        assert logged(f"invalid registry {registry}") and logged("is empty")
        assert partitions() == sorted(everyone)

        # 3. Four of thirteen companies gone at once: held back until confirmed from a shell.
        registry_of(registry, everyone[:-4])
        wait_until(lambda: logged("holding back the removal of 4 of 13 company partitions"), 120,
                   "the tick holding back the removal")
        assert logged("many.109, many.110, many.111, many.112") and logged("`osr sync confirm-removal`")
        assert partitions() == sorted(everyone)
        confirmed = subprocess.run([BIN / "osr", "sync", "confirm-removal", "--yes"], env=env, capture_output=True,
                                   text=True, check=True).stdout
        assert "removed 4 company partitions" in confirmed, confirmed
        assert partitions() == sorted(everyone[:-4])

        # 4. They come back, with one new company: only the new one gets a full import.
        registry_of(registry, [*everyone, "many.113"])
        wait_until(lambda: logged("4 companies are back in the registry"), 120, "the tick re-adding them")
        wait_until(lambda: len(full_imports()) > 3 and all(r.status in DONE for r in full_imports()), 120,
                   "the new company's import", instance)
        [new] = [r for r in full_imports() if r.run_id not in {run.run_id for run in runs}]
        assert new.tags["dagster/partition"] == "many.113"
        assert partitions() == sorted([*everyone, "many.113"])
        assert {key: wh.count_postings(key) for key in everyone} == rows
        assert wh.count_postings("many.113") > 0
