"""The Dagster instance settings osr relies on, and the embedded instance ``osr init`` creates.

The production ``dagster.yaml`` at the repository root carries the same run queue
and monitoring sections plus PostgreSQL storage; a test keeps the two equal.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from dagster import DagsterInstance

from osr_pipelines import settings

#: One import per company at a time; a per-connection cap protects the ERP's rate limit.
RUN_QUEUE = {
    "module": "dagster.core.run_coordinator",
    "class": "QueuedRunCoordinator",
    "config": {
        "max_concurrent_runs": 20,
        # a code server that is (re)starting must not fail a nightly run: dequeue it again later
        "max_user_code_failure_retries": 3,
        "user_code_failure_retry_delay": 10,
        "tag_concurrency_limits": [
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {"key": "osr/connection", "value": {"applyLimitPerUniqueValue": True}, "limit": 4},
        ],
    },
}
RUN_MONITORING = {"enabled": True, "free_slots_after_run_end_seconds": 300}


def embedded_instance_config() -> dict:
    return {"run_coordinator": RUN_QUEUE, "run_monitoring": RUN_MONITORING, "telemetry": {"enabled": False}}


def ensure_dagster_home() -> Path:
    """Point ``DAGSTER_HOME`` at the embedded home unless it is set, writing its config once."""
    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump(embedded_instance_config(), sort_keys=False))
    return home


def get_instance() -> DagsterInstance:
    ensure_dagster_home()
    return DagsterInstance.get()
