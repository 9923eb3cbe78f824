"""Reports follow the imports: when an import run ends, a report run refreshes its companies' reports.

The report assets are partitioned by company like the imports, and an import
run covers one company or a batch of a connection's consecutive companies. So
the run that follows covers exactly the same partitions, as one run (one
process, one step) however many companies the batch holds: a run per company
costs seconds of process start each, which a thousand companies' nightly could
not afford (``bench/bench_reports.py``). Declarative automation
(``AutomationCondition.eager()``) was the other choice; it requests a run per
partition, and its batching (backfills with a single-run policy) would have
split a nightly's batches again by what changed when. A run that failed still
refreshes its companies: a batch fails when one company does, and the others'
postings did change.

The report run carries no ``osr/connection`` tag: it reads the warehouse, not
the ERP, so the connection's queue limit does not hold it back.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    define_asset_job,
    run_status_sensor,
)

from osr_pipelines.assets.reports import GROUP
from osr_pipelines.jobs import IMPORT_JOBS
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.registry import Registry, RegistryError
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import COMPANIES_TAG, PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

#: what marks a report run, and which import run it follows
REPORTS_TAG = "osr/reports-after"
#: the company report assets (the client reports are partitioned by client and follow their own requests)
COMPANY_REPORTS = AssetSelection.groups(GROUP).without_checks() - AssetSelection.assets(
    "consolidated_income_statement", "consolidated_balance_sheet")

client_reports_job = define_asset_job(
    name="client_reports_job",
    selection=AssetSelection.assets("consolidated_income_statement", "consolidated_balance_sheet"),
    partitions_def=client_partitions,
    description="Refresh a client's consolidated income statement and balance sheet (after its companies' "
                "imports, see reports_after_imports).",
)

company_reports_job = define_asset_job(
    name="company_reports_job",
    selection=COMPANY_REPORTS,
    partitions_def=company_partitions,
    description="Refresh the trial balance, income statement and balance sheet of one company or a batch of them "
                "(after their import, see reports_after_imports).",
)


def report_request(tags: dict[str, str], run_id: str) -> RunRequest | None:
    """The report run over the partitions an import run with ``tags`` covered, or ``None`` for a run of none."""
    after = {REPORTS_TAG: run_id}
    if tags.get(PARTITION_TAG):
        return RunRequest(run_key=f"reports:{run_id}", partition_key=tags[PARTITION_TAG], tags=after)
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not (start and end):
        return None
    return RunRequest(run_key=f"reports:{run_id}", tags={
        **after, RANGE_START_TAG: start, RANGE_END_TAG: end,
        **({COMPANIES_TAG: tags[COMPANIES_TAG]} if COMPANIES_TAG in tags else {})})


def covered(instance: DagsterInstance, tags: dict[str, str]) -> list[str]:
    """The company partitions an import run with ``tags`` covered."""
    if tags.get(PARTITION_TAG):
        return [tags[PARTITION_TAG]]
    keys = instance.get_dynamic_partitions(company_partitions.name)
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start not in keys or end not in keys:
        return []
    return keys[keys.index(start):keys.index(end) + 1]


def client_requests(instance: DagsterInstance, registry: Registry, companies: list[str],
                    run_id: str) -> list[RunRequest]:
    """A run per consolidated client (one with a client partition) of the ``companies``."""
    consolidated = set(instance.get_dynamic_partitions(client_partitions.name))
    clients = {c.client for c in registry.companies if c.key in set(companies)} & consolidated
    return [RunRequest(run_key=f"client-reports:{client}:{run_id}", job_name=client_reports_job.name,
                       partition_key=client, tags={REPORTS_TAG: run_id}) for client in sorted(clients)]


def _after(status: DagsterRunStatus, name: str):
    @run_status_sensor(name=name, run_status=status, monitored_jobs=list(IMPORT_JOBS.values()),
                       request_jobs=[company_reports_job, client_reports_job],
                       default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="After an import run ends, refresh the reports of the companies it covered "
                                   "in one run, and the consolidated reports of their clients.")
    def sensor(context: RunStatusSensorContext, registry: RegistryResource) -> list[RunRequest] | SkipReason:
        run = context.dagster_run
        request = report_request(run.tags, run.run_id)
        if request is None:
            return SkipReason(f"import run {run.run_id} covered no partition")
        try:
            reg = registry.load()
        except RegistryError as exc:  # the companies' own reports need no registry to be requested
            context.log.warning(f"reports after run {run.run_id}: no consolidated report requested: {exc}")
            return [request]
        return [request, *client_requests(context.instance, reg, covered(context.instance, run.tags), run.run_id)]

    return sensor


reports_after_imports = _after(DagsterRunStatus.SUCCESS, "reports_after_imports")
reports_after_failed_imports = _after(DagsterRunStatus.FAILURE, "reports_after_failed_imports")
REPORT_SENSORS = [reports_after_imports, reports_after_failed_imports]
