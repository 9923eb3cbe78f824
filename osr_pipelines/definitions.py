"""Everything Dagster loads, assembled in one place from the registry."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, JobDefinition

from osr_pipelines import settings
from osr_pipelines.assets.imports import build_import_assets
from osr_pipelines.assets.reports import REPORT_ASSETS
from osr_pipelines.jobs import IMPORT_JOBS
from osr_pipelines.registry import Registry, load_registry
from osr_pipelines.resources import RegistryResource, WarehouseResource, connection_resources
from osr_pipelines.schedules import nightly_imports, weekly_ytd_imports
from osr_pipelines.sensors import registry_sync


def build_definitions(registry_path: Path | None = None, warehouse_url: str | None = None) -> Definitions:
    """Definitions for a registry; a missing registry file gives an empty but valid location."""
    path = registry_path or settings.registry_path()
    registry = load_registry(path) if path.exists() else Registry()
    connections = connection_resources(registry)
    return Definitions(
        assets=[*build_import_assets(set(connections)), *REPORT_ASSETS],
        jobs=list(IMPORT_JOBS.values()),
        schedules=[nightly_imports, weekly_ytd_imports],
        sensors=[registry_sync],
        resources={
            "registry": RegistryResource(path=str(path)),
            "warehouse": WarehouseResource(url=warehouse_url or settings.warehouse_url()),
            **connections,
        },
    )


defs = build_definitions()


# Module-level job factories, so `reconstructable` can rebuild a job in any process.
# They build from the current environment, not from `defs`, which froze it at import.
def full_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("full_import")


def nightly_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("nightly_import")


def ytd_import_job() -> JobDefinition:
    return build_definitions().resolve_job_def("ytd_import")
