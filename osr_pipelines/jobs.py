"""The three import jobs. They select the same assets and differ only in their window."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from osr_pipelines.assets.imports import GROUP

CONNECTION_TAG = "osr/connection"
IMPORT_ASSETS = AssetSelection.groups(GROUP)


def _import_job(name: str, mode: str, description: str):
    return define_asset_job(
        name=name,
        selection=IMPORT_ASSETS,
        config={"ops": {"gl_postings": {"config": {"mode": mode}}}},
        tags={"osr/import": mode},
        description=description,
    )


full_import = _import_job("full_import", "full", "Replace a company's whole history and its dimensions.")
nightly_import = _import_job(
    "nightly_import", "nightly", "Replace the last N days (the connection's nightly window) and the dimensions.")
ytd_import = _import_job(
    "ytd_import", "ytd", "Replace 1 January to today, catching back-dated postings outside the nightly window.")

IMPORT_JOBS = {"full": full_import, "nightly": nightly_import, "ytd": ytd_import}
