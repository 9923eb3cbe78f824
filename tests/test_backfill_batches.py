"""Backfills of many companies run in batches per connection, through the real daemon and the shipped instance.

``dagster job backfill`` creates one run per company; the run coordinator of
``deploy/dagster.yaml`` parks them and the ``backfill_batches`` sensor launches
the schedules' batches instead, each company still its own partition, status,
checks and failure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
)

from osr_pipelines.partitions import company_partitions
from osr_pipelines.run_queue import PARKED_TAG
from tests.conftest import synthetic_connection, write_registry
from tests.test_production_path import DONE, wait_until

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_a_backfill_of_many_companies_runs_in_batches_per_connection(production_env: dict[str, str],
                                                                       tmp_path: Path, open_warehouse) -> None:
    env = production_env
    alpha = [str(i) for i in range(1001, 1013)]  # 12 companies: one batch (at least 10 a batch)
    beta = [str(i) for i in range(2001, 2004)]   # 3 companies, 2003 gone from the ERP
    connections = [synthetic_connection("alpha", companies=",".join(alpha), postings="200", years="1"),
                   synthetic_connection("beta", companies="2001,2002", postings="200", years="1")]
    companies = [("alpha", i) for i in alpha] + [("beta", i) for i in beta]
    write_registry(tmp_path / "registry.yaml", connections, companies)
    keys = [f"{c}.{i}" for c, i in companies]
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    # partitions exist, interleaved as companies added over time would be; no full imports yet
    instance.add_dynamic_partitions(company_partitions.name, keys[:6] + keys[12:14] + keys[6:12] + keys[14:])

    daemon_log = tmp_path / "daemon.log"
    daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", "workspace.yaml"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=daemon_log.open("wb"), start_new_session=True)
    try:
        subprocess.run([BIN / "dagster", "job", "backfill", "-w", "workspace.yaml", "-j", "full_import",
                        "--partitions", ",".join(keys), "--noprompt"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        wait_until(lambda: (runs := instance.get_runs(RunsFilter(job_name="full_import")))
                   and all(r.status in DONE for r in runs) and not any(PARKED_TAG in r.tags for r in runs),
                   300, "the backfill's batched runs", instance)
        runs = instance.get_runs(RunsFilter(job_name="full_import"))
        [backfill] = instance.get_backfills()
        assert all(r.tags["dagster/backfill"] == backfill.backfill_id for r in runs)
        spans = sorted((r.tags.get("dagster/asset_partition_range_start", r.tags.get("dagster/partition")),
                        r.tags.get("dagster/asset_partition_range_end", r.tags.get("dagster/partition")),
                        r.tags["osr/connection"]) for r in runs)
        # alpha's companies are split by beta's partitions into two ranges; each range is one connection's
        assert spans == [("alpha.1001", "alpha.1006", "alpha"), ("alpha.1007", "alpha.1012", "alpha"),
                         ("beta.2001", "beta.2002", "beta"), ("beta.2003", "beta.2003", "beta")], spans
        ranged = [r for r in runs if "dagster/asset_partition_range_start" in r.tags]
        assert {r.tags["osr/companies"] for r in ranged} >= {"alpha.1001..alpha.1006 (6)"}

        status = instance.get_status_by_partition(AssetKey("gl_postings"), keys, company_partitions)
        assert status["beta.2003"] == AssetPartitionStatus.FAILED
        assert all(status[k] == AssetPartitionStatus.MATERIALIZED for k in keys if k != "beta.2003"), status
        checked = {e.dagster_event.event_specific_data.partition for r in runs
                   for e in instance.all_logs(r.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)}
        assert checked == set(keys) - {"beta.2003"}
        wh = open_warehouse(env["OSR_WAREHOUSE_URL"])
        assert all(wh.count_postings(k) > 0 for k in keys if k != "beta.2003")
        ok = [r for r in runs if r.tags["osr/connection"] == "alpha"]
        assert all(r.status == DagsterRunStatus.SUCCESS for r in ok)
        logs = "".join(e.user_message for r in runs for e in instance.all_logs(r.run_id))
        assert "did not yield or return expected outputs" not in logs
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def test_parked_runs_that_run_monitoring_failed_are_batched_all_the_same(pg_instance: DagsterInstance,
                                                                          tmp_path: Path, monkeypatch) -> None:
    """A parked run waits NOT_STARTED, and run monitoring fails a run not started in time: its company must
    still be imported (the sensor batches it), never lost to the timeout."""
    from dagster import RunRequest, build_sensor_context
    from dagster._core.run_coordinator import SubmitRunContext

    from osr_pipelines.backfills import backfill_batches
    from osr_pipelines.definitions import build_definitions
    from osr_pipelines.jobs import full_import
    from osr_pipelines.resources import RegistryResource

    registry = write_registry(tmp_path / "registry.yaml", [synthetic_connection("alpha", companies="1001,1002")],
                              [("alpha", "1001"), ("alpha", "1002")])
    monkeypatch.setenv("OSR_REGISTRY", str(registry))
    pg_instance.add_dynamic_partitions(company_partitions.name, ["alpha.1001", "alpha.1002"])
    job = build_definitions(registry).resolve_job_def(full_import.name)
    for key in ("alpha.1001", "alpha.1002"):
        run = pg_instance.create_run_for_job(job, tags={"dagster/backfill": "bf1", "dagster/partition": key,
                                                        "osr/import": "full", "osr/connection": "alpha"})
        pg_instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))
        assert pg_instance.get_run_by_id(run.run_id).tags.get(PARKED_TAG) == "true"
    [late, _] = pg_instance.get_runs()
    pg_instance.add_run_tags(late.run_id, {"dagster/failure_reason": "START_TIMEOUT"})
    pg_instance.report_run_failed(late, "Run timed out due to taking longer than 180 seconds to start.")

    monkeypatch.setattr("osr_pipelines.backfills.QUIET_S", 0.0)  # the backfill has gone quiet
    context = build_sensor_context(instance=pg_instance, resources={"registry": RegistryResource(path=str(registry))})
    requests = backfill_batches(context)
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"],
             r.tags["dagster/backfill"]) for r in requests if isinstance(r, RunRequest)] == [
        ("alpha.1001", "alpha.1002", "bf1")]
