"""The run tags osr relies on, and the tags every run of a company partition carries.

The run queue limits runs per ``osr/connection`` value; the company's name makes
runs findable by what people call the company, not only by its key.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

from osr_pipelines import settings
from osr_pipelines.registry import Registry, RegistryError, load_registry_cached

if TYPE_CHECKING:
    from dagster import DagsterRun

PARTITION_TAG = "dagster/partition"
CONNECTION_TAG = "osr/connection"
COMPANY_NAME_TAG = "osr/company"
#: A private connection's owner, on its runs, so that whose runs they are shows (and filters) in the UI.
OWNER_TAG = "osr/owner"
IMPORT_TAG = "osr/import"
#: A batch's companies, as the Runs page shows them (``demo.1001..demo.1003 (3)``), and how the batch went.
COMPANIES_TAG, OUTCOME_TAG = "osr/companies", "osr/outcome"
#: Dagster's tags for a run over a range of partitions (a batch of companies).
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"

def _registry() -> Registry | None:
    """The registry, if it loads: a run of a company it lacks gets no name tag, and fails clearly itself."""
    try:
        return load_registry_cached(settings.registry_path())
    except RegistryError:
        return None


def connection_of(partition_key: str) -> str:
    """A partition key is ``<connection>.<erp id>``; connection names hold no dot."""
    return partition_key.split(".", 1)[0]


def range_tags(connection: str, keys: list[str]) -> dict[str, str]:
    """A run over consecutive company partitions of one connection: Dagster's range, and what the Runs page shows.

    Dagster lists a ranged run with no partition, so the companies tag names the
    range and its size where people look for it.
    """
    return {CONNECTION_TAG: connection, RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1],
            COMPANIES_TAG: f"{keys[0]}..{keys[-1]} ({len(keys)})", **owner_tags(_registry(), connection)}


def owner_tags(registry: Registry | None, connection: str) -> dict[str, str]:
    """``osr/owner`` for a private connection's runs; none for a public one (or one the registry lacks)."""
    if registry is None:
        return {}
    try:
        conn = registry.connection(connection)
    except KeyError:
        return {}
    return {OWNER_TAG: conn.owner} if conn.private and conn.owner else {}


def covers(run: DagsterRun, key: str, position: dict[str, int]) -> bool:
    """Whether ``run`` imports ``key``: as its partition, or inside its range of partitions (a batch)."""
    if run.tags.get(PARTITION_TAG) is not None:
        return run.tags[PARTITION_TAG] == key
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if start not in position or end not in position or key not in position:
        return False
    return position[start] <= position[key] <= position[end]


def partition_tags(partition_key: str) -> dict[str, str]:
    tags = {CONNECTION_TAG: connection_of(partition_key)}
    registry = _registry()
    if registry is not None:
        # a company removed since gets no name tag; its run fails with a clear message of its own
        with suppress(KeyError):
            tags[COMPANY_NAME_TAG] = registry.company(partition_key).name
        tags.update(owner_tags(registry, tags[CONNECTION_TAG]))
    return tags
