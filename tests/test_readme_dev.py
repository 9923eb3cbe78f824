"""The README's first steps, run as written: ``make demo``, ``make dev``, and every command of the
second-shell block against the running ``make dev`` (its UI, daemon, sensor and the demo's sandbox)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy import select

from osr_pipelines.registry import load_registry
from osr_pipelines.runner import daemon_running, run_failure_reason
from osr_pipelines.sensors.reports import REPORTS_TAG
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import import_log
from tests.helpers import readme_block

ROOT = Path(__file__).resolve().parents[1]
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
#: the runs the README's second-shell block makes: one per command, the backfill's as one batch
JOBS = ["__ASSET_JOB", "full_import", "nightly_import", "ytd_import"]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def project_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DAGSTER_", "OSR_")) and k not in ("VIRTUAL_ENV",)}
    return {**env, "OSR_HOME": str(tmp_path / ".osr"), "DEMO_POSTINGS": "1500"}


def test_make_demo_then_every_command_against_make_dev(project_env: dict[str, str], tmp_path: Path) -> None:
    if port_open(3000):
        pytest.fail("port 3000 must be free: `make dev` serves the Dagster UI there")
    demo = subprocess.run(["make", "demo"], cwd=ROOT, env=project_env, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "all imports succeeded" in demo.stdout
    # the sandbox's port: 8765 unless another process held it; the demo connection records it for `make dev`
    sandbox_port = urlsplit(load_registry(tmp_path / ".osr" / "registry.yaml").connection("demo")
                            .options["base_url"]).port
    assert f"serves the sandbox on port {sandbox_port}," in demo.stdout

    dev = subprocess.Popen(["make", "dev"], cwd=ROOT, env=project_env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    instance = DagsterInstance.from_config(str(tmp_path / ".osr" / "dagster"))
    try:
        deadline = time.monotonic() + 180
        while not (daemon_running(instance) and port_open(3000) and port_open(sandbox_port)):
            assert dev.poll() is None, "make dev exited"
            assert time.monotonic() < deadline, "make dev did not come up within 180 s"
            time.sleep(1)
        before = {r.run_id for r in instance.get_runs()}

        block = readme_block("### With the Dagster UI and daemon")
        shell = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=project_env, capture_output=True,
                               text=True, timeout=600)
        assert shell.returncode == 0, shell.stdout[-3000:] + shell.stderr[-3000:]
        assert "demo (tripletex, import): healthy" in shell.stdout
        assert "through the daemon's run queue" in shell.stdout  # `osr import` submitted to the daemon

        deadline = time.monotonic() + 300
        while True:
            runs = [r for r in instance.get_runs() if r.run_id not in before and REPORTS_TAG not in r.tags]
            # the backfill's single-company runs are parked, then replaced by one batch of both companies (the
            # report runs that follow each import are left out here)
            if sorted(r.job_name for r in runs) == JOBS and all(r.status in DONE for r in runs):
                break
            assert time.monotonic() < deadline, [(r.job_name, r.status.value) for r in runs]
            time.sleep(1)
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        dev.wait(60)

    failures = [(r.job_name, run_failure_reason(instance, r.run_id)) for r in runs
                if r.status != DagsterRunStatus.SUCCESS]
    assert not failures
    # every run, however launched, carries the connection tag and its company's name, or a batch its companies
    assert all(r.tags.get("osr/connection") == "demo" and (r.tags.get("osr/company") or r.tags.get("osr/companies"))
               for r in runs)
    # the windowed launch loaded exactly 2024 of demo.1001; the backfill reloaded both companies whole
    wh = Warehouse(f"sqlite:///{tmp_path / '.osr' / 'warehouse.db'}")
    with wh.engine.connect() as conn:
        loads = {(r.run_id, r.company): r for r in conn.execute(
            select(import_log).where(import_log.c.dataset == "gl_postings"))}
    [ytd] = [r for r in runs if r.job_name == "ytd_import"]
    assert (loads[(ytd.run_id, "demo.1001")].window_start, loads[(ytd.run_id, "demo.1001")].window_end) == (
        date(2024, 1, 1), date(2025, 1, 1))
    [full] = [r for r in runs if r.job_name == "full_import"]
    assert full.tags["osr/companies"] == "demo.1002..demo.1003 (2)"
    for key in ("demo.1002", "demo.1003"):
        assert loads[(full.run_id, key)].rows_written == wh.count_postings(key) > 1000
