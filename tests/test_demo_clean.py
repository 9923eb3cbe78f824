"""A clean import is clean: after ``osr demo``, every company is healthy with every check passed, and no run
logged a warning. A check that fails on the happy path teaches people to ignore checks."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

BIN = Path(sys.executable).parent
CHECKS = {"vouchers_balance", "no_large_drop", "row_count_matches_source", "dimensions_resolve"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_demo_imports_without_a_warning_and_every_check_passes(tmp_path: Path) -> None:
    env = {**os.environ, "OSR_HOME": str(tmp_path)}
    for name in ("OSR_REGISTRY", "OSR_WAREHOUSE_URL", "DAGSTER_HOME"):
        env.pop(name, None)
    demo = subprocess.run([BIN / "osr", "demo", "--postings", "3000", "--port", str(_free_port())], env=env,
                          capture_output=True, text=True, timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "warning" not in demo.stderr.lower(), demo.stderr

    env["DAGSTER_HOME"] = str(tmp_path / "dagster")
    status = subprocess.run([BIN / "osr", "status", "--json"], env=env, capture_output=True, text=True, check=True)
    [connection] = json.loads(status.stdout)["connections"]
    assert connection["status"] == "healthy", connection
    assert len(connection["companies"]) == 3
    for company in connection["companies"]:
        assert company["status"] == "healthy", company
        assert {c["name"] for c in company["checks"]} == CHECKS, company
        assert all(c["passed"] for c in company["checks"]), company["checks"]

    instance = DagsterInstance.from_config(str(tmp_path / "dagster"))
    runs = instance.get_runs()
    assert len(runs) >= 3
    for run in runs:
        for entry in instance.all_logs(run.run_id):
            assert entry.level < logging.WARNING, f"run {run.run_id}: {entry.user_message}"
        for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            assert evaluation.passed, (evaluation.check_name, evaluation.partition, evaluation.metadata)
