"""Nightly and weekly year-to-date imports over every ``import``-mode company, in batches.

A run costs seconds of process start and a company a fraction of one, so the
schedules do not launch a run per company: each run covers a batch of one
connection's companies (a range of consecutive company partitions), and the
import step reports every company as its own partition (see ``assets.imports``).
Each connection's companies are split into up to ``osr/connection``'s queue limit
of batches (of at least ``MIN_BATCH``), so a large connection's ERP sees as many
parallel readers as that limit allows, and no more.

``build_schedule_from_partitioned_job`` rejects dynamic partitions, so these
schedules read the registry and the instance's company partitions themselves.
"""


from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from osr_pipelines.assets.imports import run_config
from osr_pipelines.assets.windows import OSLO
from osr_pipelines.connectors.base import Window
from osr_pipelines.instance import CONNECTION_RUN_LIMIT
from osr_pipelines.jobs import nightly_import, ytd_import
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Registry
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import PARTITION_TAG, partition_tags, range_tags

#: A run costs seconds of process start and a nightly company a fraction of one, so a batch is
#: split for parallel readers only down to this size.
MIN_BATCH = 10
#: No batch is larger: a failure or a retry then costs at most this many companies' time.
MAX_BATCH = 100


@dataclass(frozen=True)
class Batch:
    connection: str
    keys: tuple[str, ...]


def plan_batches(partition_keys: Sequence[str], registry: Registry, only: set[str] | None = None) -> list[Batch]:
    """Consecutive runs of importable partitions of one connection, cut to the batch size.

    A run's range covers every partition between its first and last key, so a
    batch never crosses a partition that is not an importable company of its
    connection (a direct or detached company, say, another connection's, or
    one not in ``only``).
    """
    importable = {c.key: c.connection for c in registry.importable_companies() if only is None or c.key in only}
    per_connection: dict[str, int] = {}
    for key in partition_keys:
        if key in importable:
            per_connection[importable[key]] = per_connection.get(importable[key], 0) + 1
    size = {c: max(MIN_BATCH, min(MAX_BATCH, -(-n // CONNECTION_RUN_LIMIT))) for c, n in per_connection.items()}
    batches: list[Batch] = []
    current: list[str] = []
    for key in [*partition_keys, None]:
        connection = importable.get(key) if key is not None else None
        if current and (connection != importable[current[0]] or len(current) == size[importable[current[0]]]):
            batches.append(Batch(importable[current[0]], tuple(current)))
            current = []
        if connection is not None:
            current.append(key)
    return batches


def batch_tags(batch: Batch) -> dict[str, str]:
    """A batch of one is a single-partition run, so the queue's per-company limit covers it."""
    if len(batch.keys) == 1:
        return partition_tags(batch.keys[0]) | {PARTITION_TAG: batch.keys[0]}
    return range_tags(batch.connection, list(batch.keys))


def _runs(context: ScheduleEvaluationContext, registry: RegistryResource, kind: str) -> Iterator[RunRequest]:
    scheduled = context.scheduled_execution_time.astimezone(OSLO).date()
    reg = registry.load()
    partitions = context.instance.get_dynamic_partitions(company_partitions.name)
    # companies not yet partitioned are left out: the sensor adds them and runs their full import first
    for batch in plan_batches(partitions, reg):
        if kind == "nightly":
            window = Window.last_days(reg.connection(batch.connection).nightly_days, scheduled)
        else:
            window = Window(date(scheduled.year, 1, 1), scheduled + timedelta(days=1))
        yield RunRequest(
            run_key=f"{kind}:{batch.keys[0]}..{batch.keys[-1]}:{scheduled.isoformat()}",
            run_config=run_config(kind, window),
            partition_key=batch.keys[0] if len(batch.keys) == 1 else None,
            tags=batch_tags(batch),
        )


@schedule(job=nightly_import, cron_schedule="0 2 * * *", execution_timezone="Europe/Oslo",
          default_status=DefaultScheduleStatus.RUNNING)
def nightly_imports(context: ScheduleEvaluationContext, registry: RegistryResource) -> Iterator[RunRequest]:
    """02:00 Oslo time: each company's last N days."""
    yield from _runs(context, registry, "nightly")


@schedule(job=ytd_import, cron_schedule="0 4 * * 0", execution_timezone="Europe/Oslo",
          default_status=DefaultScheduleStatus.RUNNING)
def weekly_ytd_imports(context: ScheduleEvaluationContext, registry: RegistryResource) -> Iterator[RunRequest]:
    """Sunday 04:00 Oslo time: each company's year to date."""
    yield from _runs(context, registry, "ytd")
