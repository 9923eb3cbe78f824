"""Imports a company of a ``saf-t`` connection when its files change: a new or changed file in the folder.

The content hash of a company's files decides (see
``connectors.saft.fingerprint``), not their timestamps. A company seen for the
first time is only remembered: adding it to the registry already starts its
full import (``registry_sync``). A change requests the company's full import on
its partition, with the run config and tags of every full import, so it shows,
queues and is checked like any other import.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from osr_pipelines.assets.imports import run_config
from osr_pipelines.connectors.saft.fingerprint import scan
from osr_pipelines.jobs import full_import
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import RegistryError
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import partition_tags

TYPE = "saf-t"


@sensor(job=full_import, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
def saft_files(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    try:
        reg = registry.load()
    except RegistryError as exc:
        return SensorResult(skip_reason=f"SAF-T files: the registry cannot be loaded: {exc}")
    state = json.loads(context.cursor) if context.cursor else {"files": {}, "companies": {}, "tick": 0}
    # a run key per tick: the same content coming back later (A, B, A) is a change again
    tick = state.get("tick", 0) + 1
    partitions = set(context.instance.get_dynamic_partitions(company_partitions.name))
    files: dict[str, list] = {}
    seen: dict[str, str] = {}
    runs: list[RunRequest] = []
    for connection in reg.connections:
        if connection.type != TYPE or connection.mode != "import":
            continue
        folder = Path(connection.options.get("path", "")).expanduser()
        if not folder.is_dir():
            context.log.warning(f"SAF-T files: connection '{connection.name}': {folder} is not a folder")
            continue
        hashes, cache = scan(folder, state["files"])
        files.update(cache)
        for company in reg.companies_of(connection.name):
            if company.detached:
                continue
            digest = seen[company.key] = hashes.get(company.erp_id, "")  # "": no file of it (yet)
            before = state["companies"].get(company.key)
            if digest and before is not None and before != digest and company.key in partitions:
                context.log.info(f"SAF-T files: the files of {company.key} changed; requesting its full import")
                runs.append(RunRequest(run_key=f"saft:{company.key}:{tick}", run_config=run_config("full"),
                                       partition_key=company.key, tags=partition_tags(company.key)))
    cursor = json.dumps({"files": files, "companies": seen, "tick": tick}, sort_keys=True)
    return SensorResult(run_requests=runs, cursor=cursor,
                        skip_reason=None if runs else "SAF-T files: no new or changed file")
