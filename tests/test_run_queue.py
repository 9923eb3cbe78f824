"""The real daemon and run queue: two imports of one company never run at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy.engine import make_url

from osr_pipelines.instance import RUN_QUEUE
from osr_pipelines.partitions import company_partitions
from osr_pipelines.runner import run_failure_reason
from osr_pipelines.sensors.reports import REPORTS_TAG
from tests.conftest import synthetic_connection, write_registry

BIN = Path(sys.executable).parent


def test_queue_config_is_applied_by_the_coordinator(pg_instance: DagsterInstance) -> None:
    queue = pg_instance.run_coordinator.get_run_queue_config()
    limits = {(limit["key"], json.dumps(limit.get("value"), sort_keys=True)): limit["limit"]
              for limit in queue.tag_concurrency_limits}
    assert limits[("dagster/partition", '{"applyLimitPerUniqueValue": true}')] == 1
    assert limits[("osr/connection", '{"applyLimitPerUniqueValue": true}')] == 4


def imports(instance: DagsterInstance) -> list:
    """The import runs: the report runs the daemon's sensors request after each are not what is tested here."""
    return [r for r in instance.get_runs() if REPORTS_TAG not in r.tags]


def test_daemon_runs_one_import_per_company_at_a_time(tmp_path: Path, pg_database) -> None:
    storage = make_url(pg_database("dq")).set(drivername="postgresql+psycopg2").render_as_string(False)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump({
        "storage": {"postgres": {"postgres_url": storage}},
        "run_coordinator": {**RUN_QUEUE, "config": {**RUN_QUEUE["config"], "dequeue_interval_seconds": 1}},
        "telemetry": {"enabled": False},
    }))
    conn = synthetic_connection(companies="1001", batch_size="300", batch_delay="0.2")
    registry = write_registry(tmp_path / "registry.yaml", [conn], [("demo", "1001")])
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "OSR_HOME": str(tmp_path),
           "OSR_REGISTRY": str(registry), "OSR_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}"}
    instance = DagsterInstance.from_config(str(dagster_home))
    instance.add_dynamic_partitions(company_partitions.name, ["demo.1001"])

    for _ in range(2):
        subprocess.run([BIN / "dagster", "job", "launch", "-m", "osr_pipelines.definitions", "-a", "defs",
                        "-j", "full_import", "--tags", json.dumps({"dagster/partition": "demo.1001"})],
                       env=env, check=True, capture_output=True)
    queued = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
    assert len(queued) == 2

    daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-m", "osr_pipelines.definitions", "-a", "defs"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        most_at_once = 0
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = imports(instance)
            active = [r for r in runs if r.status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)]
            most_at_once = max(most_at_once, len(active))
            if all(r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for r in runs):
                break
            time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(30)

    runs = imports(instance)
    failures = [run_failure_reason(instance, r.run_id) for r in runs if r.status != DagsterRunStatus.SUCCESS]
    assert [r.status for r in runs] == [DagsterRunStatus.SUCCESS] * 2, failures
    assert most_at_once == 1
    first, second = sorted((instance.get_run_record_by_id(r.run_id) for r in runs), key=lambda r: r.start_time)
    assert second.start_time >= first.end_time
