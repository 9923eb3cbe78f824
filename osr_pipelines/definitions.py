"""Everything Dagster loads, assembled in one place.

Nothing here depends on the registry's contents: companies are dynamic
partitions and connections are resolved by the ``erp`` resource at run time,
so the code location never needs a reload when customers are added.
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, JobDefinition

from osr_pipelines.assets.imports import build_import_assets
from osr_pipelines.assets.reports import REPORT_ASSETS
from osr_pipelines.backfills import backfill_batches
from osr_pipelines.jobs import IMPORT_JOBS
from osr_pipelines.resources import ErpConnections, RegistryResource, WarehouseResource
from osr_pipelines.schedules import nightly_imports, weekly_ytd_imports
from osr_pipelines.sensors import registry_sync
from osr_pipelines.sensors.reports import REPORT_SENSORS, client_reports_job, company_reports_job
from osr_pipelines.sensors.saft_files import saft_files


def build_definitions(registry_path: Path | None = None, warehouse_url: str | None = None) -> Definitions:
    return Definitions(
        assets=[*build_import_assets(), *REPORT_ASSETS],
        jobs=[*IMPORT_JOBS.values(), company_reports_job, client_reports_job],
        schedules=[nightly_imports, weekly_ytd_imports],
        sensors=[registry_sync, backfill_batches, saft_files, *REPORT_SENSORS],
        resources={
            "registry": RegistryResource(path=str(registry_path) if registry_path else None),
            "warehouse": WarehouseResource(url=warehouse_url),
            "erp": ErpConnections(),
        },
    )


defs = build_definitions()


# Module-level job factories, so `reconstructable` can rebuild a job in any process.
def full_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("full_import")


def nightly_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("nightly_import")


def ytd_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("ytd_import")
