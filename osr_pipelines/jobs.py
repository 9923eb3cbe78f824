"""The three import jobs. They select the same assets and differ only in their window.

Every run of a company partition carries the connection tag the run queue
limits on, and the company's name, however it was launched: by the sensor, a
schedule, a backfill, the UI's launchpad or ``osr import``. The tags come from
the job's partitioned config, so no launcher has to remember them.

A run is one step (``import_company``) over one company or a batch of them,
executed in the run's own process unless ``OSR_EXECUTOR`` hands it to Celery
workers (``executors.py``): a process per asset cost seconds per company, which
a nightly over hundreds of companies cannot afford.
"""

from __future__ import annotations

from dagster import AssetSelection, PartitionedConfig, define_asset_job

from osr_pipelines.assets.imports import GROUP, run_config
from osr_pipelines.executors import import_executor
from osr_pipelines.partitions import company_partitions
from osr_pipelines.tags import IMPORT_TAG, partition_tags

#: A run still going after this long lost its worker or hangs; run monitoring fails it.
MAX_RUNTIME_S = 6 * 3600
#: The import assets without their checks: each company's check results are logged on its own partition
#: (``assets.imports._check_result``), which a batch run could not give as outputs.
IMPORT_ASSETS = AssetSelection.groups(GROUP).without_checks()


def _import_job(name: str, mode: str, description: str):
    return define_asset_job(
        name=name,
        selection=IMPORT_ASSETS,
        config=PartitionedConfig(
            partitions_def=company_partitions,
            run_config_for_partition_key_fn=lambda _key: run_config(mode),
            tags_for_partition_key_fn=partition_tags,
        ),
        tags={IMPORT_TAG: mode, "dagster/max_runtime": MAX_RUNTIME_S},
        executor_def=import_executor(),
        description=description,
    )


full_import = _import_job("full_import", "full", "Replace a company's whole history and its dimensions.")
nightly_import = _import_job(
    "nightly_import", "nightly", "Replace the last N days (the connection's nightly window) and the dimensions.")
ytd_import = _import_job(
    "ytd_import", "ytd", "Replace 1 January to today, catching back-dated postings outside the nightly window.")

IMPORT_JOBS = {"full": full_import, "nightly": nightly_import, "ytd": ytd_import}
