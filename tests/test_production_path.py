"""The production path as shipped: ``deploy/dagster.yaml`` verbatim, the real daemon, ``workspace.yaml``.

Only the environment points the shipped files at the test database. The sensor
imports the registered companies; a connection whose secret is missing fails
only its own company; a connection added with ``osr`` while the daemon runs is
imported without a reload; a SAF-T file dropped into a ``saf-t`` connection's
folder is imported by the folder's sensor without a command; a backfill's runs
carry the connection tag the queue limits on; a batched nightly fails only the
partition of its failing company.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import yaml
from dagster import AssetKey, AssetPartitionStatus, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from osr_pipelines.partitions import company_partitions
from osr_pipelines.runner import run_failure_reason
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.connectors.test_saft_file import ORG as SAFT_ORG
from tests.connectors.test_saft_file import saft_file

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               instance: DagsterInstance | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    seen = "" if instance is None else "; runs: " + ", ".join(
        f"{r.job_name}/{r.tags.get('dagster/partition')}={r.status.value}" for r in instance.get_runs()) + (
        "; backfills: " + ", ".join(f"{b.backfill_id}={b.status.value}" for b in instance.get_backfills()))
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{seen}")


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[None]:
    """``dagster-daemon run`` on ``workspace.yaml`` for the block; its log must show no error of the kind
    the shipped configuration once caused.

    stderr goes to a file: the daemon's runs inherit it, and a full pipe nobody reads would block them.
    """
    process = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", "workspace.yaml"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)
    err = log.read_bytes()
    assert b"NOTIFY" not in err and b"SyntaxError" not in err, err.decode()[-2000:]


def finished(instance: DagsterInstance, key: str, job: str = "full_import") -> list:
    runs = instance.get_runs(RunsFilter(job_name=job, tags={"dagster/partition": key}))
    return [r for r in runs if r.status in DONE]


def test_shipped_instance_daemon_sensor_live_connections_and_backfill(production_env: dict[str, str],
                                                                      tmp_path: Path) -> None:
    env = production_env
    good = synthetic_connection("good", companies="1001", postings="400", years="1")
    bad = {**synthetic_connection("bad", companies="1001", postings="400", years="1"),
           "credentials": {"api_key": "MISSING_SECRET"}}
    folder = tmp_path / "saf-t"
    folder.mkdir()
    saft_file(folder / "a.xml", end=date(2025, 6, 30), lines=[("1", 202503, "1920", "-50.00"),
                                                              ("1", 202503, "3000", "50.00")])
    files = {"name": "files", "type": "saf-t", "level": "customer", "parent": "Acme", "options": {"path": str(folder)}}
    saft_key = f"files.{SAFT_ORG}"
    write_registry(tmp_path / "registry.yaml", [good, bad, files],
                   [("good", "1001"), ("bad", "1001"), ("files", SAFT_ORG)])
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])

    with daemon(env, tmp_path / "daemon.log"):
        # The sensor's first tick adds the partitions and launches the full imports.
        wait_until(lambda: all(finished(instance, k) for k in ("good.1001", "bad.1001", saft_key)), 240,
                   "the sensor's full imports")
        wh = Warehouse(env["OSR_WAREHOUSE_URL"])
        assert wh.count_postings(saft_key) == 2 + 2  # two opening balances, March
        # A SAF-T file dropped into the folder: the folder's sensor imports it while the steps below run.
        saft_file(folder / "c.xml", created=date(2026, 1, 20), start=date(2025, 7, 1), end=date(2025, 12, 31),
                  lines=[("9", 202511, "1920", "-70.00"), ("9", 202511, "3000", "70.00")])
        [ok] = finished(instance, "good.1001")
        [failed] = finished(instance, "bad.1001")
        assert ok.status == DagsterRunStatus.SUCCESS, run_failure_reason(instance, ok.run_id)
        assert ok.tags["osr/connection"] == "good" and ok.tags["osr/company"] == "Company 1001"
        assert failed.status == DagsterRunStatus.FAILURE
        reason = run_failure_reason(instance, failed.run_id)
        assert "connection 'bad'" in reason and "MISSING_SECRET" in reason, reason
        assert wh.count_postings("good.1001") > 100
        assert wh.count_postings("bad.1001") == 0

        # A connection and company added through the CLI while the daemon runs: no reload.
        osr = [str(BIN / "osr")]
        for args in (["connection", "add", "late", "--type", "synthetic", "--option", "companies=2001",
                      "--option", "postings=300", "--option", "years=1"],
                     ["company", "add", "late", "2001"]):
            subprocess.run(osr + args, env=env, check=True, capture_output=True)
        wait_until(lambda: finished(instance, "late.2001"), 240, "the sensor's import of a new connection")
        [late] = finished(instance, "late.2001")
        assert late.status == DagsterRunStatus.SUCCESS, run_failure_reason(instance, late.run_id)
        assert wh.count_postings("late.2001") > 50

        # A backfill from Dagster's own CLI: its runs carry the connection tag the queue limits on.
        # Sensor and schedule runs are done; from here on the backfill daemon creates the runs.
        subprocess.run([BIN / "dagster", "job", "backfill", "-w", "workspace.yaml", "-j", "nightly_import",
                        "--partitions", "good.1001,late.2001", "--noprompt"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        wait_until(lambda: all(finished(instance, k, "nightly_import") for k in ("good.1001", "late.2001")), 240,
                   "the backfill's runs", instance)
        for key, connection in (("good.1001", "good"), ("late.2001", "late")):
            [run] = finished(instance, key, "nightly_import")
            assert run.status == DagsterRunStatus.SUCCESS, run_failure_reason(instance, run.run_id)
            assert run.tags["osr/connection"] == connection
            assert "dagster/backfill" in run.tags

        # A nightly over a batched connection through the daemon's queue: `osr import` plans the same
        # batches as the schedule (ranges of one connection's companies). Company 3004 is not in the
        # source: its partition alone fails; the rest of its batch is imported; each has its own checks.
        subprocess.run([*osr, "connection", "add", "many", "--type", "synthetic", "--option",
                        "companies=" + ",".join(str(i) for i in range(3001, 3009)), "--option", "postings=300",
                        "--option", "years=1"], env=env, check=True, capture_output=True)
        subprocess.run([*osr, "company", "add", "many", "--all"], env=env, check=True, capture_output=True)
        many = [f"many.{i}" for i in range(3001, 3009)]
        registry = yaml.safe_load((tmp_path / "registry.yaml").read_text())
        [conn] = [c for c in registry["connections"] if c["name"] == "many"]
        conn["options"]["companies"] = "3001,3002,3003,3005,3006,3007,3008"  # 3004 is gone from the ERP
        (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry, sort_keys=False))
        # the sensor imports the connection's new companies in one run over their range of partitions
        wait_until(lambda: [r for r in instance.get_runs(RunsFilter(job_name="full_import",
                                                                    tags={"osr/connection": "many"}))
                            if r.status in DONE], 300, "the new companies' full imports", instance)
        nightly = subprocess.run([*osr, "import", "nightly", "--all"], env=env, capture_output=True, text=True,
                                 timeout=300)
        assert nightly.returncode == 1, nightly.stdout + nightly.stderr
        batches = [r for r in instance.get_runs(RunsFilter(job_name="nightly_import", tags={"osr/connection": "many"}))]
        ranges = sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                        for r in batches)
        assert ranges == [("many.3001", "many.3008")]
        status = instance.get_status_by_partition(AssetKey("gl_postings"), many, company_partitions)
        assert status["many.3004"] == AssetPartitionStatus.FAILED
        assert all(status[k] == AssetPartitionStatus.MATERIALIZED for k in many if k != "many.3004"), status
        assert "many.3004" in nightly.stdout and "no such company in the source" in nightly.stdout, nightly.stdout
        [failed_batch] = [r for r in batches if r.status == DagsterRunStatus.FAILURE]
        checked = {e.dagster_event.event_specific_data.partition
                   for e in instance.all_logs(failed_batch.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)}
        assert checked == {k for k in many if k != "many.3004"}
        assert wh.count_postings("many.3003") > 0 and wh.count_postings("many.3004") == 0
        # `osr status` reads each company's own outcome out of its batch
        status_out = subprocess.run([*osr, "status"], env=env, capture_output=True, text=True, check=True).stdout
        lines = {line.split()[0]: line for line in status_out.splitlines() if line.startswith("  many.")}
        assert "last run SUCCESS" in lines["many.3003"] and "last run FAILURE" in lines["many.3004"], status_out
        assert "many (synthetic, import): failing (1 of 8 companies)" in status_out, status_out

        # The dropped SAF-T file, imported by the sensor (every 60 s) without an `osr import`: a run like any.
        wait_until(lambda: len(finished(instance, saft_key)) == 2, 120, "the sensor's import of the dropped file",
                   instance)
        [dropped] = [r for r in finished(instance, saft_key) if r.tags.get("dagster/sensor_name") == "saft_files"]
        [first] = [r for r in finished(instance, saft_key) if r.run_id != dropped.run_id]
        assert dropped.status == DagsterRunStatus.SUCCESS, run_failure_reason(instance, dropped.run_id)
        assert dropped.tags["osr/connection"] == "files" and dropped.tags["osr/company"] == f"Company {SAFT_ORG}"
        assert dropped.tags["dagster/partition"] == saft_key
        assert {k: v for k, v in dropped.tags.items() if k.startswith("osr/")} == {
            k: v for k, v in first.tags.items() if k.startswith("osr/")}
        assert wh.count_postings(saft_key) == 2 + 2 + 2  # two opening balances, March and November
