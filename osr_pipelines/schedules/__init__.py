"""Nightly and weekly year-to-date imports over every ``import``-mode company.

``build_schedule_from_partitioned_job`` rejects dynamic partitions, so these
schedules read the registry and the instance's company partitions themselves
and yield one run per company, each with its window pinned in the run config.
"""


from collections.abc import Iterator
from datetime import date, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from osr_pipelines.assets.windows import OSLO
from osr_pipelines.connectors.base import Window
from osr_pipelines.jobs import nightly_import, ytd_import
from osr_pipelines.partitions import company_partitions
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import CONNECTION_TAG


def _runs(context: ScheduleEvaluationContext, registry: RegistryResource, kind: str) -> Iterator[RunRequest]:
    scheduled = context.scheduled_execution_time.astimezone(OSLO).date()
    reg = registry.load()
    partitions = set(context.instance.get_dynamic_partitions(company_partitions.name))
    for company in reg.importable_companies():
        if company.key not in partitions:
            continue  # the sensor adds it and runs its full import first
        if kind == "nightly":
            window = Window.last_days(reg.connection(company.connection).nightly_days, scheduled)
        else:
            window = Window(date(scheduled.year, 1, 1), scheduled + timedelta(days=1))
        yield RunRequest(
            run_key=f"{kind}:{company.key}:{scheduled.isoformat()}",
            partition_key=company.key,
            run_config={"ops": {"gl_postings": {"config": {
                "mode": kind, "start": window.start.isoformat(), "end": window.end.isoformat()}}}},
            tags={CONNECTION_TAG: company.connection},
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
