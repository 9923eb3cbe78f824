"""The instance's run coordinator: Dagster's run queue, parking backfills' single-company import runs.

Every process that opens the instance loads this module (the daemon, the
webserver, each run, ``dagster`` and ``osr`` commands), so it imports nothing
of the code location: the rest of the batching is the ``backfill_batches``
sensor (``osr_pipelines.backfills``).
"""

from __future__ import annotations

import os

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.tags import BACKFILL_ID_TAG

from osr_pipelines.connectors.base import DIMENSIONS
from osr_pipelines.instance import hold_storage_connections
from osr_pipelines.tags import IMPORT_TAG, PARTITION_TAG, RANGE_START_TAG

#: Set (to "true") on a parked run; its backfill is in Dagster's own backfill tag.
PARKED_TAG = "osr/parked"
#: A parked run that goes to the queue as it is (a company no batch can take).
RELEASED_TAG = "osr/released"
#: The implicit asset job's runs: *Materialize* of many partitions in the UI.
ASSET_JOB_PREFIX = "__ASSET_JOB"
IMPORT_ASSET_NAMES = frozenset({"gl_postings", *DIMENSIONS})
#: Dagster writes up to this many planned events of a run's creation in one insert.
EVENT_BATCH_SIZE_ENV, EVENT_BATCH_SIZE = "DAGSTER_EVENT_BATCH_SIZE", 1000


def parkable(run: DagsterRun) -> bool:
    """A single-company import run of a backfill, not released: one the sensor can put in a batch."""
    tags = run.tags
    if BACKFILL_ID_TAG not in tags or PARTITION_TAG not in tags or RELEASED_TAG in tags or RANGE_START_TAG in tags:
        return False
    if IMPORT_TAG in tags:  # the import jobs tag all their runs
        return True
    return run.job_name.startswith(ASSET_JOB_PREFIX) and bool(run.asset_selection) and all(
        key.to_user_string() in IMPORT_ASSET_NAMES for key in run.asset_selection)


class ImportRunCoordinator(QueuedRunCoordinator):
    """``QueuedRunCoordinator`` (same config, same queue), except that a backfill's single-company import runs
    wait, ``NOT_STARTED`` and tagged ``osr/parked``, for the ``backfill_batches`` sensor to batch them."""

    def register_instance(self, instance: DagsterInstance) -> None:
        """Processes that submit runs (the daemon's schedules and sensors, ``dagster job backfill`` creating one
        run per company) keep their storage connections open (``hold_storage_connections``) and write a run's
        planned-materialization events in one batch: a batch run over 25 companies plans 150 of them, one
        insert each otherwise. ``DAGSTER_EVENT_BATCH_SIZE`` is Dagster's own switch; one set in the
        environment wins."""
        super().register_instance(instance)
        hold_storage_connections(instance)
        os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.status == DagsterRunStatus.NOT_STARTED and parkable(run):
            self._instance.add_run_tags(run.run_id, {PARKED_TAG: "true"})
            return self._instance.get_run_by_id(run.run_id) or run
        return super().submit_run(context)
