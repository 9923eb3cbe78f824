"""Running imports through Dagster from outside it (the CLI, the demo, tests).

Runs execute in this process against the configured Dagster instance, so they
appear in the UI exactly like scheduled runs, with the same partition and
connection tags. A company that already has an import queued or running is
skipped with its run id, keeping the one-import-per-company rule even without
the daemon's queue.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    execute_job,
    reconstructable,
)

from osr_pipelines.connectors.base import Window
from osr_pipelines.jobs import CONNECTION_TAG
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Registry

PARTITION_TAG = "dagster/partition"
_ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
           DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


@dataclass
class RunOutcome:
    company: str
    run_id: str | None
    status: str
    rows: int | None = None
    seconds: float = 0.0
    error: str | None = None


def import_job(kind: str):  # returns a ReconstructableJob
    """The job, reconstructable so runs record their origin like daemon-launched ones.

    Dagster caches the last reconstructed definition process-wide; clear it so a
    run always sees the registry as it is now (a long-lived process may have
    edited it since the previous run).
    """
    from dagster._core.definitions.reconstruct import ReconstructableJob

    from osr_pipelines import definitions

    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    return reconstructable({"full": definitions.full_import_job, "nightly": definitions.nightly_import_job,
                            "ytd": definitions.ytd_import_job}[kind])


def ensure_partitions(instance: DagsterInstance, keys: list[str]) -> None:
    existing = set(instance.get_dynamic_partitions(company_partitions.name))
    missing = [k for k in keys if k not in existing]
    if missing:
        instance.add_dynamic_partitions(company_partitions.name, missing)


def active_run(instance: DagsterInstance, key: str) -> str | None:
    runs = instance.get_runs(RunsFilter(tags={PARTITION_TAG: key}, statuses=_ACTIVE), limit=1)
    return runs[0].run_id if runs else None


def run_imports(
    instance: DagsterInstance,
    registry: Registry,
    kind: str,
    keys: list[str],
    window: Window | None = None,
    on_update: Callable[[str, str], None] | None = None,
) -> list[RunOutcome]:
    """Run one import per company, one after another; ``on_update(company, text)`` reports progress."""
    ensure_partitions(instance, keys)
    outcomes = []
    for key in keys:
        busy = active_run(instance, key)
        if busy:
            outcomes.append(RunOutcome(key, busy, "SKIPPED", error=f"an import of {key} is already active: {busy}"))
            continue
        outcomes.append(_run_one(instance, registry, kind, key, window, on_update))
    return outcomes


def _run_one(instance: DagsterInstance, registry: Registry, kind: str, key: str, window: Window | None,
             on_update: Callable[[str, str], None] | None) -> RunOutcome:
    op_config: dict = {"mode": kind}
    if window is not None:
        op_config.update(start=window.start.isoformat(), end=window.end.isoformat())
    token = uuid.uuid4().hex
    tags = {PARTITION_TAG: key, CONNECTION_TAG: registry.company(key).connection, "osr/cli": token}
    run_config = {
        "ops": {"gl_postings": {"config": op_config}},
        "execution": {"config": {"in_process": {}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    started = time.perf_counter()
    holder: dict = {}

    def target() -> None:
        try:
            with execute_job(import_job(kind), instance=instance, run_config=run_config, tags=tags,
                             raise_on_error=False) as result:
                holder["run_id"] = result.run_id
        except Exception as exc:  # run config or definitions errors before the run starts
            holder["error"] = str(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.5)
        if on_update:
            on_update(key, _progress_text(instance, token))
    seconds = time.perf_counter() - started
    if "error" in holder:
        return RunOutcome(key, None, "FAILURE", seconds=seconds, error=holder["error"])
    run = instance.get_run_by_id(holder["run_id"])
    assert run is not None
    rows = None
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization is not None and materialization.asset_key == AssetKey("gl_postings"):
            rows = materialization.metadata["rows_written"].value
    error = None if run.status == DagsterRunStatus.SUCCESS else run_failure_reason(instance, run.run_id)
    return RunOutcome(key, run.run_id, run.status.value, rows, seconds, error)


def _progress_text(instance: DagsterInstance, token: str) -> str:
    runs = instance.get_runs(RunsFilter(tags={"osr/cli": token}), limit=1)
    if not runs:
        return "starting"
    logs = instance.all_logs(runs[0].run_id)
    for entry in reversed(logs):
        if entry.user_message and "postings loaded" in entry.user_message:
            return entry.user_message
        if entry.dagster_event and entry.dagster_event.event_type_value == "STEP_START":
            return f"running {entry.step_key}"
    return "running"


def run_failure_reason(instance: DagsterInstance, run_id: str) -> str:
    """The first step failure's message, which names connection, company and field.

    A run that failed outside any step (its worker died, say) gives the run
    failure's own message instead, so that the reason is never lost.
    """
    run_failure: str | None = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "STEP_FAILURE":
            data = event.event_specific_data
            error = getattr(data, "error", None)
            while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
                error = error.cause  # the wrapper says only which op failed; its cause says why
            if error is not None:
                message = error.message.strip().splitlines()[-1]
                # "dagster._core.definitions.events.Failure: <our message>" -> "<our message>"
                return message.split(": ", 1)[1] if error.cls_name == "Failure" and ": " in message else message
        if event is not None and event.event_type_value in ("PIPELINE_FAILURE", "RUN_FAILURE") and event.message:
            run_failure = event.message
    return run_failure or "run failed (see the Dagster UI)"
