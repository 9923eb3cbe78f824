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

import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventLogEntry,
    RunsFilter,
    execute_job,
    reconstructable,
)

from osr_pipelines import definitions, settings
from osr_pipelines.assets.imports import FAILED_COMPANIES, POSTINGS, run_config
from osr_pipelines.committed import PostingsLoad, postings_load
from osr_pipelines.connectors.base import Window
from osr_pipelines.diskspace import full_disk_of, full_disks
from osr_pipelines.filelock import try_lock
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry_cached
from osr_pipelines.schedules import batch_tags, plan_batches
from osr_pipelines.tags import PARTITION_TAG, RANGE_START_TAG, partition_tags

CODE_LOCATION = "osr_pipelines.definitions"
#: The repository a ``Definitions`` object makes.
REPOSITORY = "__repository__"
#: Set on runs that ``osr`` executes itself: which process owns the run.
PID_TAG, HOST_TAG, CLI_TAG = "osr/pid", "osr/host", "osr/cli"
#: Dagster's job pages list a location's runs by this tag; runs executed here carry it too.
_REPOSITORY_TAG = ".dagster/repository"
ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
          DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
_DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
_JOBS = {"full": definitions.full_import_job, "nightly": definitions.nightly_import_job,
         "ytd": definitions.ytd_import_job}

@dataclass
class RunOutcome:
    company: str
    run_id: str | None
    status: str
    rows: int | None = None
    seconds: float | None = None  # the company's own import, out of its run's events; None if unknown
    error: str | None = None
    #: the data was committed, yet something about the run needs attention (Dagster could not record it, say)
    warning: str | None = None
    #: the import step itself failed this company (``error`` is its word): Dagster's record is whole, so a load
    #: that committed before the failure does not make the import a success
    failed_by_step: bool = False


@dataclass
class CompanyProgress:
    """How far one company's import has come, out of the structured events its run logs as it goes.

    ``state``: ``submitted`` / ``queued`` / ``starting`` (its run is not yet
    going), ``started`` (its run is, the company not yet), ``dimensions``,
    ``postings`` (``rows`` and, where the import step reports them, ``pages``
    read so far), ``checks`` (postings written, checks being logged).
    """

    company: str
    state: str = "submitted"
    rows: int | None = None
    pages: int | None = None
    dimensions: int = 0
    checks: int = 0
    since: float | None = None  # when its import started (event time), for the elapsed time


Progress = Callable[[CompanyProgress], None]


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
    """Fail the company's runs whose process died (killed, machine restarted), saying what became of the load."""
    failed = []
    for run in active_runs(instance, key):
        if is_stale(run):
            instance.report_run_failed(run, f"the osr process {run.tags[PID_TAG]} executing this run is gone; "
                                            + stale_load(postings_load(key, run.run_id)))
            failed.append(run.run_id)
    return failed


def stale_load(load: PostingsLoad | None) -> str:
    """What became of a run's load (``load``: its committed postings load, if any) whose process ended before
    Dagster recorded the run's end.

    A killed load rolls back; but the process may also have committed and then
    been unable to write Dagster's events (a full disk), and the rows are there.
    """
    if load is None:
        return "its load, if it had begun, was rolled back"
    return f"its load had committed {load.rows:,} postings before Dagster could record the run's end"


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

    ``on_update(progress)`` reports a company's progress as its run's events arrive;
    ``on_done(outcome)`` each company as its run ends.
    """
    ensure_partitions(instance, keys)
    if daemon_running(instance):
        return submit_and_follow(instance, kind, keys, window, on_update, allow_shrink=allow_shrink,
                                 on_done=on_done)
    outcomes = []
    for key in keys:
        outcomes.append(run_here(instance, kind, key, window, on_update, allow_shrink=allow_shrink))
        if on_done:
            on_done(outcomes[-1])
    return outcomes


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
        before = postings_load(key)  # a newer load after the run is the run's own
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
        follower: RunFollower | None = None
        with _fail_run_on_signal(instance, token):
            thread.start()
            while thread.is_alive():
                thread.join(0.5)
                if on_update is None:
                    continue
                follower = follower or _follow(instance, token, key)
                # what changed, else the same again: the display's spinner and elapsed time keep moving
                updates = (follower.poll(instance) or list(follower.progress.values())) if follower else [
                    CompanyProgress(key, "starting")]
                for progress in updates:
                    on_update(progress)
    seconds = time.perf_counter() - started
    if "error" in holder:
        outcome = RunOutcome(key, None, "FAILURE", seconds=seconds, error=holder["error"])
    else:
        try:
            outcome = RunReport.read(instance, holder["run_id"]).outcome(instance, key, seconds)
        except Exception as exc:  # Dagster's storage cannot be read back (a full disk): the warehouse says
            outcome = RunOutcome(key, holder["run_id"], "UNKNOWN", seconds=seconds,
                                 error=f"Dagster's record of the run cannot be read: {_first_line(exc)}")
    load = postings_load(key)
    return reconcile(outcome, load if load is not None and load != before else None)


def _follow(instance: DagsterInstance, token: str, key: str) -> RunFollower | None:
    """A follower of the run ``osr`` started with ``token``, once Dagster has created it."""
    try:
        runs = instance.get_runs(RunsFilter(tags={CLI_TAG: token}), limit=1)
    except Exception:  # progress is a courtesy: a storage that cannot be read must not stop the import
        return None
    return RunFollower(runs[0].run_id, [key]) if runs else None


def reconcile(outcome: RunOutcome, load: PostingsLoad | None) -> RunOutcome:
    """The outcome that agrees with what was committed: ``load`` is the company's postings load of this run, if any.

    Dagster's record may say less than happened: a run whose events could not
    be written (a full disk) stays STARTED, or fails after the rows were
    committed. The warehouse's word wins; Dagster's is kept as the warning.
    Unless the step itself failed the company after a load committed (the
    nightly's back-dated read, say): its record is whole, and it says what stays.
    """
    full = full_disk_of("Dagster's storage")
    if load is None:
        if outcome.status == DagsterRunStatus.SUCCESS.value:
            return outcome
        error = outcome.error or f"the run ended {outcome.status}"
        disk = next(iter(full_disks()), None)
        if disk is not None:  # the driver's words ("disk I/O error") come second: the disk is the cause
            error = f"nothing was committed: {disk}; free space there and import again ({error.splitlines()[0]})"
        ended = {DagsterRunStatus.FAILURE.value, DagsterRunStatus.CANCELED.value}
        # a run left STARTED (its end could not be recorded) did not succeed
        return replace(outcome, status=outcome.status if outcome.status in ended else DagsterRunStatus.FAILURE.value,
                       error=error)
    if outcome.status == DagsterRunStatus.SUCCESS.value or outcome.failed_by_step:
        return outcome
    why = (f"Dagster's record of the run could not be written: {full}" if full is not None
           else f"Dagster's record of the run says {outcome.status}: {outcome.error or 'no reason given'}")
    return RunOutcome(outcome.company, load.run_id or outcome.run_id, DagsterRunStatus.SUCCESS.value, load.rows,
                      outcome.seconds, warning=f"imported: its {load.rows:,} postings were committed, but {why}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


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
                      on_update: Progress | None = None, *, allow_shrink: bool = False,
                      on_done: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
    """Hand the runs to the daemon's queue, then follow each company.

    The companies go in the same batches the schedules use (a range of one
    connection's companies per run), so ``osr import --all`` costs what the
    nightly costs; a batch of one is a single-partition run, which the queue's
    per-company limit covers. Each company's progress comes from its run's
    events as they are logged; its outcome when its run ends.
    """
    token = uuid.uuid4().hex
    batches = plan_batches(instance.get_dynamic_partitions(company_partitions.name),
                           load_registry_cached(settings.registry_path()), only=set(keys))
    config = run_config(kind, window, allow_shrink=allow_shrink)
    submit_runs(instance, job_name(kind), [(config, {**batch_tags(batch), CLI_TAG: token}) for batch in batches])
    planned = {key for batch in batches for key in batch.keys}
    outcomes: dict[str, RunOutcome] = {
        key: RunOutcome(key, None, "FAILURE", error=f"company '{key}' is not an importable company of its "
                                                    "connection in the registry; nothing was submitted")
        for key in keys if key not in planned}
    followers: dict[str, RunFollower] = {}
    while len(outcomes) < len(keys):
        time.sleep(0.5)
        runs = {r.tags.get(PARTITION_TAG) or r.tags.get(RANGE_START_TAG): r
                for r in instance.get_runs(RunsFilter(tags={CLI_TAG: token}))}
        for batch in batches:
            run = runs.get(batch.keys[0])
            pending = [k for k in batch.keys if k in keys and k not in outcomes]
            if not pending:
                continue
            if run is None or run.status not in _DONE:
                if on_update is None:
                    continue
                if run is None or run.status not in (DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING):
                    state = "submitted" if run is None else "queued" if run.status in (
                        DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED) else "starting"
                    for key in pending:
                        on_update(CompanyProgress(key, state))
                    continue
                follower = followers.setdefault(run.run_id, RunFollower(run.run_id, list(batch.keys)))
                for progress in follower.poll(instance):
                    on_update(progress)
                continue
            report = RunReport.read(instance, run.run_id)
            for key in pending:
                outcomes[key] = reconcile(report.outcome(instance, key), postings_load(key, run.run_id))
                if on_done:
                    on_done(outcomes[key])
    return [outcomes[k] for k in keys]


def submit_runs(instance: DagsterInstance, job: str, runs: list[tuple[dict, dict[str, str]]]) -> None:
    """Create and queue runs of ``job`` (each a run config and its tags) from one loaded code location, as the
    scheduler daemon does.

    A ``dagster job launch`` per run loaded the code location twice each (its
    own process and the code server it starts): seconds of CPU per batch.
    """
    from dagster._cli.job import _create_run
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget

    if not runs:
        return
    try:
        target = ModuleTarget(CODE_LOCATION, None, None, CODE_LOCATION)
        with WorkspaceProcessContext(instance, target) as process:
            workspace = process.create_request_context()
            location = workspace.get_code_location(CODE_LOCATION)
            repository = location.get_repository(REPOSITORY)
            remote_job = repository.get_full_job(job)
            for config, tags in runs:
                run = _create_run(instance=instance, code_location=location, remote_repo=repository,
                                  remote_job=remote_job, run_config=config, tags=tags, op_selection=None, run_id=None)
                instance.submit_run(run.run_id, workspace)
    except Exception as exc:
        if settings.debug():
            raise
        raise RuntimeError(f"could not submit the runs to the daemon's queue: {_first_line(exc)}") from None


# -- reporting ----------------------------------------------------------------------------


#: The events that say what a run did for each company, and when.
_COMPANY_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION,
                   DagsterEventType.ASSET_CHECK_EVALUATION}


def company_of(entry: EventLogEntry, run_partition: str | None = None) -> str | None:
    """The company partition an event of the import step is about, if any."""
    event = entry.dagster_event
    if event is None or event.event_type not in _COMPANY_EVENTS:
        return None
    data = event.event_specific_data
    return getattr(data, "partition", None) or event.partition or run_partition


@dataclass(frozen=True)
class RunReport:
    """What one run's events say of each company it imported: postings loaded, how long it took, or why it failed.

    Read once per run: a batch covers up to a hundred companies, and each
    company's outcome comes out of the same event log. A batch imports its
    companies one after another, so a company's own time runs from the run's
    last event before its first one (the previous company's end, or the step's
    start) to its own last event: not the run's duration, which every company
    of a batch shares.
    """

    run: DagsterRun
    rows: dict[str, int]
    failures: dict[str, str]
    seconds: dict[str, float]

    @classmethod
    def read(cls, instance: DagsterInstance, run_id: str) -> RunReport:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        rows: dict[str, int] = {}
        failures: dict[str, str] = {}
        began: dict[str, float] = {}
        ended: dict[str, float] = {}
        previous: float | None = None
        for entry in instance.all_logs(run_id):
            key = company_of(entry, run.tags.get(PARTITION_TAG))
            if key is not None:
                began.setdefault(key, previous if previous is not None else entry.timestamp)
                ended[key] = entry.timestamp
            previous = entry.timestamp
            materialization = entry.asset_materialization
            if materialization is not None and materialization.asset_key == POSTINGS and key is not None:
                rows[key] = materialization.metadata["rows_written"].value
            event = entry.dagster_event
            if event is not None and event.event_type == DagsterEventType.STEP_FAILURE:
                failure = getattr(event.event_specific_data, "user_failure_data", None)
                failed = failure.metadata.get(FAILED_COMPANIES) if failure is not None else None
                if failed is not None:
                    failures.update(failed.value)
        return cls(run, rows, failures, {key: ended[key] - began[key] for key in ended})

    def outcome(self, instance: DagsterInstance, key: str, seconds: float | None = None) -> RunOutcome:
        """``key``'s outcome; ``seconds`` (what the caller measured) stands in where its events tell nothing."""
        run, rows = self.run, self.rows.get(key)
        seconds = self.seconds.get(key, seconds)
        if run.status == DagsterRunStatus.SUCCESS:
            return RunOutcome(key, run.run_id, run.status.value, rows, seconds)
        error = self.failures.get(key)
        if error is None and rows is not None and run.status == DagsterRunStatus.FAILURE:
            # the batch failed for other companies; this one was imported
            return RunOutcome(key, run.run_id, DagsterRunStatus.SUCCESS.value, rows, seconds)
        return RunOutcome(key, run.run_id, run.status.value, rows, seconds,
                          error or run_failure_reason(instance, run.run_id), failed_by_step=error is not None)


class RunFollower:
    """Follows a running run's events as they are logged, and says how far each of its companies has come."""

    def __init__(self, run_id: str, keys: list[str]) -> None:
        self.run_id = run_id
        self.single = keys[0] if len(keys) == 1 else None
        self.progress = {key: CompanyProgress(key, "started") for key in keys}
        self.cursor: str | None = None

    def poll(self, instance: DagsterInstance) -> list[CompanyProgress]:
        """The companies whose progress changed since the last poll (all of them on the first)."""
        changed = dict(self.progress) if self.cursor is None else {}
        try:
            result = instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=_COMPANY_EVENTS,
                                                  ascending=True)
        except Exception:  # progress is a courtesy: a storage that cannot be read must not stop the import
            return list(changed.values())
        self.cursor = result.cursor
        for record in result.records:
            entry = record.event_log_entry
            key = company_of(entry, self.single)
            if key not in self.progress:
                continue
            progress = self.progress[key]
            progress.since = progress.since or entry.timestamp
            _advance(progress, entry)
            changed[key] = progress
        return list(changed.values())


def _advance(progress: CompanyProgress, entry: EventLogEntry) -> None:
    event = entry.dagster_event
    assert event is not None
    if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        progress.state, progress.checks = "checks", progress.checks + 1
        return
    asset = entry.asset_materialization or event.asset_observation_data.asset_observation
    figures = {k: v.value for k, v in asset.metadata.items()}
    if asset.asset_key != POSTINGS:
        progress.state, progress.dimensions = "dimensions", progress.dimensions + 1
    elif event.event_type == DagsterEventType.ASSET_OBSERVATION:
        progress.state = "postings"
        progress.rows = figures.get("rows_loaded", progress.rows)
        progress.pages = figures.get("pages_read", progress.pages)
    else:
        progress.state, progress.rows = "checks", figures.get("rows_written", progress.rows)


def company_failure(instance: DagsterInstance, run_id: str, key: str) -> str | None:
    """Why the run's import step failed ``key``, from the step failure's per-company list."""
    return RunReport.read(instance, run_id).failures.get(key)


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
