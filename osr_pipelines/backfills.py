"""Backfills of many companies run in batches, as the schedules do.

Dagster makes a backfill one run per partition when it comes from
``dagster job backfill`` (the CLI creates the runs itself and ignores any
``BackfillPolicy``), and an asset ``BackfillPolicy`` would cut ranges across
connections and give every range the first company's connection tag, which
breaks the per-connection queue limit. At seconds of process start per run, a
1,000-company backfill would take over an hour where the nightly takes minutes.

So the project plans its backfills itself, in two steps:

1. ``run_queue.ImportRunCoordinator`` (the instance's run coordinator, a
   ``QueuedRunCoordinator``) *parks* each single-company import run of a
   backfill instead of queueing it: the run stays ``NOT_STARTED``, tagged
   ``osr/parked``, so the queue daemon never launches it.
2. The ``backfill_batches`` sensor turns a backfill's parked runs, once the
   backfill has submitted them all (or they have been quiet for a few seconds),
   into the same batches the schedules launch (``plan_batches``: consecutive
   companies of one connection, up to the queue's runs per connection), as
   ranged runs of the same job, config, asset selection and backfill id; a
   later tick deletes the parked runs their batches cover. A company that cannot be batched (a direct or
   detached company, or one gone from the registry) is queued as it is, and
   fails with its own clear message.

Each batch reports every company on its own partition (``assets.imports``),
so the UI shows the same per-company status, checks and retries as a nightly.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

from dagster import (
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._core.events import RunFailureReason
from dagster._core.execution.backfill import BulkActionStatus
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.tags import BACKFILL_ID_TAG, RUN_FAILURE_REASON_TAG

from osr_pipelines.instance import hold_storage_connections
from osr_pipelines.jobs import IMPORT_JOBS
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Registry
from osr_pipelines.resources import RegistryResource
from osr_pipelines.run_queue import PARKED_TAG, RELEASED_TAG
from osr_pipelines.schedules import batch_tags, plan_batches
from osr_pipelines.tags import IMPORT_TAG, PARTITION_TAG, covers

#: Parked runs of a backfill that is still submitting are batched once none came for this long...
QUIET_S = 10.0
#: ...or once the oldest has waited this long: run monitoring fails a run not started within its
#: ``start_timeout_seconds`` (180 in ``deploy/dagster.yaml``), parked ones included.
MAX_PARKED_S = 60.0
#: Parked runs a tick deletes once their batch exists: each is a storage write, and a tick that passes the
#: sensor's 60-second limit is cut off.
CLEAN_UP_PER_TICK = 300
_JOB_NAMES = {job.name for job in IMPORT_JOBS.values()}


def _ready(context: SensorEvaluationContext, backfill_id: str, oldest: float, newest: float) -> bool:
    """Whether to batch a backfill's parked runs now: it says it is done submitting, it has gone quiet, or its
    oldest parked run must start before run monitoring gives up on it (a larger backfill then runs in more,
    smaller batches)."""
    backfill = context.instance.get_backfill(backfill_id)
    if backfill is not None and backfill.status != BulkActionStatus.REQUESTED:
        return True
    now = time.time()
    return now - newest >= QUIET_S or now - oldest >= MAX_PARKED_S


def _group_key(run: DagsterRun) -> tuple:
    """Runs batched together share job, backfill, config and asset selection."""
    selection = tuple(sorted(k.to_user_string() for k in run.asset_selection or ()))
    return run.tags[BACKFILL_ID_TAG], run.job_name, repr(sorted(run.run_config.items())), selection


def _batch_requests(context: SensorEvaluationContext, runs: list[DagsterRun], partitions: list[str],
                    registry: Registry) -> Iterator[RunRequest]:
    """One ranged run per batch of the parked runs; parked runs no batch takes are queued as they are.

    The parked runs stay until a later tick finds their batch created: deleting them here would lose them
    if the daemon never created the batch (a tick that times out, say).
    """
    first = runs[0]
    by_key = {run.tags[PARTITION_TAG]: run for run in runs}
    batches = plan_batches(partitions, registry, only=set(by_key))
    job_name = first.job_name if first.job_name in _JOB_NAMES else IMPORT_JOBS["full"].name
    backfill_id = first.tags[BACKFILL_ID_TAG]
    carried = {k: v for k, v in first.tags.items() if k.startswith("dagster/backfill") or k == IMPORT_TAG}
    for batch in batches:
        yield RunRequest(
            run_key=f"backfill:{backfill_id}:{batch.keys[0]}..{batch.keys[-1]}",
            job_name=job_name,
            run_config=dict(first.run_config),
            asset_selection=sorted(first.asset_selection, key=str) if first.asset_selection else None,
            partition_key=batch.keys[0] if len(batch.keys) == 1 else None,
            # released: a batch of one carries the backfill's and the partition's tags, and must not park again
            tags={**carried, **batch_tags(batch), RELEASED_TAG: "true"},
        )
    batched = {key for batch in batches for key in batch.keys}
    for key, run in by_key.items():  # not importable: queued alone, so it fails with its own message
        if key not in batched:
            context.instance.add_run_tags(run.run_id, {RELEASED_TAG: "true"})
            context.instance.run_coordinator.submit_run(SubmitRunContext(
                context.instance.get_run_by_id(run.run_id), workspace=None))


def _batch_runs(context: SensorEvaluationContext, backfill_id: str) -> list[DagsterRun]:
    """The backfill's runs created from this sensor's requests (its batches)."""
    return list(context.instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id, RELEASED_TAG: "true"})))


@sensor(jobs=list(IMPORT_JOBS.values()), minimum_interval_seconds=5, default_status=DefaultSensorStatus.RUNNING,
        description="Batches backfills of the import jobs and assets by connection, as the schedules do.")
def backfill_batches(context: SensorEvaluationContext, registry: RegistryResource) -> list[RunRequest] | SkipReason:
    hold_storage_connections(context.instance)
    groups: dict[tuple, list[DagsterRun]] = defaultdict(list)
    newest: dict[tuple, float] = defaultdict(float)
    oldest: dict[tuple, float] = defaultdict(lambda: time.time())
    # parked runs, and parked runs run monitoring failed for not starting (the daemon's sensors were down, say):
    # their companies are batched all the same
    records = context.instance.get_run_records(RunsFilter(
        tags={PARKED_TAG: "true"}, statuses=[DagsterRunStatus.NOT_STARTED, DagsterRunStatus.FAILURE]))
    for record in reversed(records):  # oldest first
        run = record.dagster_run
        timed_out = run.tags.get(RUN_FAILURE_REASON_TAG) == RunFailureReason.START_TIMEOUT.value
        if RELEASED_TAG not in run.tags and (run.status == DagsterRunStatus.NOT_STARTED or timed_out):
            key = _group_key(run)
            groups[key].append(run)
            created = record.create_timestamp.timestamp()
            newest[key], oldest[key] = max(newest[key], created), min(oldest[key], created)
    if not groups:
        return SkipReason("no backfill runs to batch")
    partitions = list(context.instance.get_dynamic_partitions(company_partitions.name))
    position = {key: i for i, key in enumerate(partitions)}
    batch_runs = {backfill: _batch_runs(context, backfill) for backfill in {k[0] for k in groups}}
    done: list[DagsterRun] = []
    waiting: dict[tuple, list[DagsterRun]] = {}
    for key, runs in groups.items():
        for run in runs:
            batched = any(covers(batch, run.tags[PARTITION_TAG], position) for batch in batch_runs[key[0]])
            (done if batched else waiting.setdefault(key, [])).append(run)
    # parked runs whose batch exists go, a bounded number a tick: a tick must end within the sensor's time limit
    for run in done[:CLEAN_UP_PER_TICK]:
        context.instance.delete_run(run.run_id)
    ready = [runs for key, runs in waiting.items() if runs and _ready(context, key[0], oldest[key], newest[key])]
    if not ready:
        parked = sum(map(len, waiting.values()))
        return SkipReason(f"{parked} parked backfill runs, waiting for their backfills to finish submitting; "
                          f"{min(len(done), CLEAN_UP_PER_TICK)} batched ones removed")
    reg = registry.load()
    requests = [request for runs in ready for request in _batch_requests(context, runs, partitions, reg)]
    context.log.info(f"backfills: {sum(map(len, ready))} companies in {len(requests)} batched runs")
    return requests
