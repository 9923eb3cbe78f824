"""The Dagster instance settings osr relies on, and the embedded instance ``osr init`` creates.

The production ``deploy/dagster.yaml`` carries the same run queue and monitoring
sections plus PostgreSQL storage; a test keeps the two equal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import yaml
from dagster import DagsterInstance

from osr_pipelines import settings

#: Parallel runs per ERP connection: they share the connection's rate limit.
CONNECTION_RUN_LIMIT = 4
#: One import per company at a time; a per-connection cap protects the ERP's rate limit.
RUN_QUEUE = {
    "module": "osr_pipelines.run_queue",
    "class": "ImportRunCoordinator",
    "config": {
        "max_concurrent_runs": 20,
        # a code server that is (re)starting must not fail a nightly run: dequeue it again later
        "max_user_code_failure_retries": 3,
        "user_code_failure_retry_delay": 10,
        "tag_concurrency_limits": [
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            {"key": "osr/connection", "value": {"applyLimitPerUniqueValue": True}, "limit": CONNECTION_RUN_LIMIT},
        ],
    },
}
#: A run whose worker died is failed instead of holding its company's slot for good.
RUN_MONITORING = {"enabled": True, "start_timeout_seconds": 180, "cancel_timeout_seconds": 180,
                  "max_resume_run_attempts": 0, "poll_interval_seconds": 30, "free_slots_after_run_end_seconds": 300}


#: Runs whose run config names no logger print Dagster's events from this level on (Dagster's default is
#: DEBUG: twenty engine events per `dagster asset materialize`); the event log keeps them all.
PYTHON_LOGS = {"python_log_level": "INFO"}


def embedded_instance_config() -> dict:
    return {"run_coordinator": RUN_QUEUE, "run_monitoring": RUN_MONITORING, "python_logs": PYTHON_LOGS,
            "telemetry": {"enabled": False}}


def ensure_dagster_home() -> Path:
    """Point ``DAGSTER_HOME`` at the embedded home unless it is set, writing its config once."""
    home = settings.dagster_home()
    os.environ["DAGSTER_HOME"] = str(home)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(yaml.safe_dump(embedded_instance_config(), sort_keys=False))
    return home


def get_instance() -> DagsterInstance:
    """The instance, its storage created under a lock.

    Dagster creates its SQLite tables on first use; two ``osr`` processes
    starting on a new home would both try, and one fails with "table already
    exists". The lock makes the first one create them while the other waits.
    """
    home = ensure_dagster_home()
    fd = os.open(home / ".osr-init.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return DagsterInstance.get()
    finally:
        os.close(fd)


def hold_storage_connections(instance: DagsterInstance) -> None:
    """Let this process keep its connections to Dagster's storage open instead of opening one per query.

    dagster-postgres opens a new connection for every storage query unless told
    otherwise (so that idle processes hold none), and a batch run writes a dozen
    events per company: measured on a 25-company nightly batch, 2,064 new
    connections for 460 events and about half of the run's time; ``dagster job
    backfill`` creating runs pays the same per run. Runs and the processes that
    submit them are short and busy, so they hold one, as the webserver does
    (which pools with its own settings, left alone here, as is SQLite storage).
    """
    from sqlalchemy.pool import NullPool

    engine = getattr(instance.event_log_storage, "_engine", None)
    if engine is not None and isinstance(engine.pool, NullPool):
        instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
