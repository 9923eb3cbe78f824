"""Running imports through Dagster from outside it (the CLI, the demo, tests).

Two ways, one set of rules:

- **A daemon is running** (``make dev``, production): runs are *submitted* with
  Dagster's own CLI (``dagster job backfill`` / ``dagster job launch``) to the
  instance's queue, so the queue's per-company and per-connection limits hold
  and the runs are launched, monitored and shown exactly like scheduled ones.
  Progress is followed from the runs' status.
- **No daemon** (the embedded home): runs execute here, one after another,
  through ``execute_job``. A per-company lock file makes the
  one-import-per-company rule atomic between ``osr`` processes, and each run
  records the process that executes it, so a run whose process died is
  recognised as stale and failed instead of blocking its company for good.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
    execute_job,
    reconstructable,
)

from osr_pipelines import definitions, settings
from osr_pipelines.assets.imports import FAILED_COMPANIES, OP_NAME, POSTINGS
from osr_pipelines.connectors.base import Window
from osr_pipelines.filelock import try_lock
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry_cached
from osr_pipelines.schedules import Batch, batch_tags, plan_batches
from osr_pipelines.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, partition_tags

CODE_LOCATION = "osr_pipelines.definitions"
#: Set on runs that ``osr`` executes itself: which process owns the run.
PID_TAG, HOST_TAG, CLI_TAG = "osr/pid", "osr/host", "osr/cli"
#: Dagster's job pages list a location's runs by this tag; runs executed here carry it too.
_REPOSITORY_TAG = ".dagster/repository"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
          DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
_DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
_JOBS = {"full": definitions.full_import_job, "nightly": definitions.nightly_import_job,
         "ytd": definitions.ytd_import_job}

Progress = Callable[[str, str], None]


@dataclass
class RunOutcome:
    company: str
    run_id: str | None
    status: str
    rows: int | None = None
    seconds: float = 0.0
    error: str | None = None


def job_name(kind: str) -> str:
    return f"{kind}_import"


def import_job(kind: str):  # returns a ReconstructableJob
    """The job, reconstructable so a run records its code origin."""
    return reconstructable(_JOBS[kind])


def daemon_running(instance: DagsterInstance, freshness_s: float = 60.0) -> bool:
    """Whether a daemon dequeues this instance's runs: its queue heartbeat is recent."""
    beat = instance.get_daemon_heartbeats().get("QUEUED_RUN_COORDINATOR")
    return beat is not None and time.time() - beat.timestamp < freshness_s


def ensure_partitions(instance: DagsterInstance, keys: list[str]) -> None:
    existing = set(instance.get_dynamic_partitions(company_partitions.name))
    missing = [k for k in keys if k not in existing]
    if missing:
        instance.add_dynamic_partitions(company_partitions.name, missing)


# -- stale and active runs -------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(run: DagsterRun) -> bool:
    """An active run executed by an ``osr`` process on this machine that no longer exists."""
    pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
    return (run.status in ACTIVE and pid is not None and host == socket.gethostname()
            and not _process_alive(int(pid)))


def active_runs(instance: DagsterInstance, key: str) -> list[DagsterRun]:
    return list(instance.get_runs(RunsFilter(tags={PARTITION_TAG: key}, statuses=ACTIVE)))


def fail_stale_runs(instance: DagsterInstance, key: str) -> list[str]:
    """Fail the company's runs whose process died (killed, machine restarted); their loads rolled back."""
    failed = []
    for run in active_runs(instance, key):
        if is_stale(run):
            instance.report_run_failed(run, f"the osr process {run.tags[PID_TAG]} executing this run is gone "
                                            "(killed or crashed); the warehouse rolled the load back")
            failed.append(run.run_id)
    return failed


def cancel_imports(instance: DagsterInstance, key: str) -> list[str]:
    """Stop every active import of a company: dequeue, terminate, or fail what lost its process."""
    handled = []
    for run in active_runs(instance, key):
        pid = run.tags.get(PID_TAG)
        if pid is not None and run.tags.get(HOST_TAG) == socket.gethostname():
            if _process_alive(int(pid)) and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGTERM)  # its handler fails the run
                _wait_for(lambda r=run: _status(instance, r.run_id) in _DONE, 30)
            if _status(instance, run.run_id) not in _DONE:
                instance.report_run_canceled(run, "canceled with `osr import cancel`")
        else:
            instance.run_coordinator.cancel_run(run.run_id)
        handled.append(run.run_id)
    return handled


def _status(instance: DagsterInstance, run_id: str) -> DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run else None


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


@contextmanager
def company_lock(instance: DagsterInstance, key: str) -> Iterator[bool]:
    """An exclusive, non-blocking lock per company between ``osr`` processes; yields whether it was taken.

    The check for an active run and the run's creation happen under it, so two
    ``osr import`` of one company cannot both start. The OS drops the lock when
    the process dies.
    """
    with try_lock(Path(instance.root_directory) / "osr-locks" / f"{key}.lock") as held:
        yield held


# -- running ----------------------------------------------------------------------------


def run_imports(
    instance: DagsterInstance,
    kind: str,
    keys: list[str],
    window: Window | None = None,
    on_update: Progress | None = None,
    *,
    allow_shrink: bool = False,
    on_done: Callable[[RunOutcome], None] | None = None,
) -> list[RunOutcome]:
    """One import per company; through the daemon's queue when one runs, here otherwise.

    ``on_update(company, text)`` reports progress; ``on_done(outcome)`` each finished company.
    """
    ensure_partitions(instance, keys)
    if daemon_running(instance):
        outcomes = submit_and_follow(instance, kind, keys, window, on_update, allow_shrink=allow_shrink)
        for outcome in outcomes:
            if on_done:
                on_done(outcome)
        return outcomes
    outcomes = []
    for key in keys:
        outcomes.append(run_here(instance, kind, key, window, on_update, allow_shrink=allow_shrink))
        if on_done:
            on_done(outcomes[-1])
    return outcomes


def run_config(kind: str, window: Window | None, *, allow_shrink: bool = False) -> dict:
    op_config: dict = {"mode": kind}
    if window is not None:
        op_config.update(start=window.start.isoformat(), end=window.end.isoformat())
    if allow_shrink:
        op_config["allow_shrink"] = True
    return {"ops": {OP_NAME: {"config": op_config}}}


def run_here(instance: DagsterInstance, kind: str, key: str, window: Window | None,
             on_update: Progress | None = None, *, allow_shrink: bool = False) -> RunOutcome:
    """Execute one company's import in this process, failing its run if the process is interrupted."""
    with company_lock(instance, key) as locked:
        fail_stale_runs(instance, key)
        busy = active_runs(instance, key)
        if not locked or busy:
            run_id = busy[0].run_id if busy else None
            return RunOutcome(key, run_id, "SKIPPED", error=(
                f"an import of {key} is already active{f' (run {run_id})' if run_id else ''}; wait for it, or "
                f"stop it with `osr import cancel --company {key}` if it is stuck"))
        token = uuid.uuid4().hex
        tags = {PARTITION_TAG: key, **partition_tags(key), CLI_TAG: token, PID_TAG: str(os.getpid()),
                HOST_TAG: socket.gethostname(), _REPOSITORY_TAG: f"__repository__@{CODE_LOCATION}"}
        config = {**run_config(kind, window, allow_shrink=allow_shrink),
                  # failures reach the user as one paragraph; Dagster's tracebacks only with --debug
                  "loggers": {"console": {"config": {"log_level": "DEBUG" if settings.debug() else "CRITICAL"}}}}
        started = time.perf_counter()
        holder: dict = {}

        def target() -> None:
            try:
                with execute_job(import_job(kind), instance=instance, run_config=config, tags=tags,
                                 raise_on_error=False) as result:
                    holder["run_id"] = result.run_id
            except Exception as exc:  # run config or definitions errors before the run starts
                holder["error"] = str(exc)

        thread = threading.Thread(target=target, daemon=True)
        with _fail_run_on_signal(instance, token):
            thread.start()
            while thread.is_alive():
                thread.join(0.5)
                if on_update:
                    on_update(key, _progress_text(instance, token))
    seconds = time.perf_counter() - started
    if "error" in holder:
        return RunOutcome(key, None, "FAILURE", seconds=seconds, error=holder["error"])
    return RunReport.read(instance, holder["run_id"]).outcome(instance, key, seconds)


@contextmanager
def _fail_run_on_signal(instance: DagsterInstance, token: str) -> Iterator[None]:
    """On Ctrl-C or SIGTERM, mark the run failed before exiting, so it cannot block its company."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        for run in instance.get_runs(RunsFilter(tags={CLI_TAG: token}, statuses=ACTIVE), limit=1):
            instance.report_run_failed(run, f"interrupted by {name}; the warehouse rolled the load back")
        print(f"\ninterrupted by {name}: the run is marked failed and its load rolled back", file=sys.stderr,
              flush=True)
        # The run's thread holds a warehouse transaction; leaving now makes the database roll it back.
        # A normal exit would wait for Dagster's own background threads.
        os._exit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def submit_and_follow(instance: DagsterInstance, kind: str, keys: list[str], window: Window | None,
                      on_update: Progress | None = None, *, allow_shrink: bool = False) -> list[RunOutcome]:
    """Hand the runs to the daemon's queue with ``dagster job launch``, then wait for each company.

    The companies go in the same batches the schedules use (a range of one
    connection's companies per run), so ``osr import --all`` costs what the
    nightly costs; a batch of one is a single-partition run, which the queue's
    per-company limit covers.
    """
    token = uuid.uuid4().hex
    started = time.perf_counter()
    target = ["-m", CODE_LOCATION, "-j", job_name(kind)]
    config = json.dumps(run_config(kind, window, allow_shrink=allow_shrink))
    batches = plan_batches(instance.get_dynamic_partitions(company_partitions.name),
                           load_registry_cached(settings.registry_path()), only=set(keys))

    def launch(batch: Batch) -> None:
        _dagster("job", "launch", *target, "--config-json", config,
                 "--tags", json.dumps({**batch_tags(batch), CLI_TAG: token}))

    with ThreadPoolExecutor(max_workers=4) as pool:  # each launch is a process that loads the code location
        list(pool.map(launch, batches))
    batch_of = {key: batch.keys[0] for batch in batches for key in batch.keys}
    outcomes: dict[str, RunOutcome] = {}
    reports: dict[str, RunReport] = {}
    while len(outcomes) < len(keys):
        time.sleep(0.5)
        runs = {r.tags.get(PARTITION_TAG) or r.tags.get(RANGE_START_TAG): r
                for r in instance.get_runs(RunsFilter(tags={CLI_TAG: token}))}
        for key in keys:
            run = runs.get(batch_of.get(key))
            if key in outcomes:
                continue
            if run is not None and run.status in _DONE:
                if run.run_id not in reports:
                    reports[run.run_id] = RunReport.read(instance, run.run_id)
                outcomes[key] = reports[run.run_id].outcome(instance, key, time.perf_counter() - started)
            elif on_update:
                on_update(key, run.status.value.lower() if run else "submitted")
    return [outcomes[k] for k in keys]


def _dagster(*args: str) -> None:
    command = [str(Path(sys.executable).parent / "dagster"), *args]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ})
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`dagster {' '.join(args[:2])}` could not submit the runs: {last[0]}")


# -- reporting ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """What one run's events say of each company it imported: postings loaded, or why it failed.

    Read once per run: a batch covers up to a hundred companies, and each
    company's outcome comes out of the same event log.
    """

    run: DagsterRun
    rows: dict[str, int]
    failures: dict[str, str]

    @classmethod
    def read(cls, instance: DagsterInstance, run_id: str) -> RunReport:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        rows: dict[str, int] = {}
        failures: dict[str, str] = {}
        for entry in instance.all_logs(run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION,
                                                         DagsterEventType.STEP_FAILURE}):
            materialization = entry.asset_materialization
            if materialization is not None:
                if materialization.asset_key == POSTINGS and materialization.partition is not None:
                    rows[materialization.partition] = materialization.metadata["rows_written"].value
                continue
            failure = getattr(entry.dagster_event.event_specific_data, "user_failure_data", None)
            failed = failure.metadata.get(FAILED_COMPANIES) if failure is not None else None
            if failed is not None:
                failures.update(failed.value)
        return cls(run, rows, failures)

    def outcome(self, instance: DagsterInstance, key: str, seconds: float) -> RunOutcome:
        run, rows = self.run, self.rows.get(key)
        if run.status == DagsterRunStatus.SUCCESS:
            return RunOutcome(key, run.run_id, run.status.value, rows, seconds)
        error = self.failures.get(key)
        if error is None and rows is not None and run.status == DagsterRunStatus.FAILURE:
            # the batch failed for other companies; this one was imported
            return RunOutcome(key, run.run_id, DagsterRunStatus.SUCCESS.value, rows, seconds)
        return RunOutcome(key, run.run_id, run.status.value, rows, seconds,
                          error or run_failure_reason(instance, run.run_id))


def covers(run: DagsterRun, key: str, position: dict[str, int]) -> bool:
    """Whether ``run`` imports ``key``: as its partition, or inside its range of partitions (a batch)."""
    if run.tags.get(PARTITION_TAG) is not None:
        return run.tags[PARTITION_TAG] == key
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if start not in position or end not in position or key not in position:
        return False
    return position[start] <= position[key] <= position[end]


def company_failure(instance: DagsterInstance, run_id: str, key: str) -> str | None:
    """Why the run's import step failed ``key``, from the step failure's per-company list."""
    return RunReport.read(instance, run_id).failures.get(key)


def _progress_text(instance: DagsterInstance, token: str) -> str:
    """The run's current step and, while postings stream in, the rows loaded so far (structured events)."""
    runs = instance.get_runs(RunsFilter(tags={CLI_TAG: token}), limit=1)
    if not runs:
        return "starting"
    records = instance.get_records_for_run(
        runs[0].run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.ASSET_OBSERVATION},
        limit=1, ascending=False).records
    if not records:
        return "running"
    event = records[0].event_log_entry.dagster_event
    if event is not None and event.event_type == DagsterEventType.ASSET_OBSERVATION:
        rows = event.asset_observation_data.asset_observation.metadata.get("rows_loaded")
        return f"{rows.value:,} postings loaded" if rows is not None else "running"
    return f"running {records[0].event_log_entry.step_key}"


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
        if event is not None and event.event_type_value == "RUN_CANCELED":
            run_failure = event.message or "canceled"
    return run_failure or "run failed (see the Dagster UI)"
