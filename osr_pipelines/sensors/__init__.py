"""Keeps the company partitions in step with the registry, and the client partitions of the
consolidated reports in step with the group file.

New companies get their partition and their full import in the same tick, so
a company is never left registered but empty. Their full imports run in
batches, as the schedules' imports do: adding an accounting office's thousand
clients must not cost a thousand run starts.

The registry is one file a person edits, so the sensor distrusts sudden loss:
a registry it cannot load changes nothing; a tick removes more than a share of
the partitions only once a person confirms (``removal_guard``); and a company
whose partition comes back while the warehouse still holds its rows is not
imported in full again, which after a damaged file was restored would have
meant a full import of every company against the ERPs.

Companies gone from the registry lose their partition, but not their rows
(``osr company remove`` deletes those). Detached companies (their import
connection was deleted) keep their partition: their data stays until the
company itself is removed.
"""

from __future__ import annotations

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from osr_pipelines import removal_guard
from osr_pipelines.assets.imports import run_config
from osr_pipelines.jobs import full_import
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.registry import Registry, RegistryError
from osr_pipelines.reports.groups import consolidated_clients
from osr_pipelines.resources import RegistryResource, WarehouseResource
from osr_pipelines.schedules import batch_tags, plan_batches


@sensor(job=full_import, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def registry_sync(context: SensorEvaluationContext, registry: RegistryResource,
                  warehouse: WarehouseResource) -> SensorResult:
    try:
        reg = registry.load()
    except RegistryError as exc:
        message = f"registry sync: no partition added or removed, the registry cannot be loaded: {exc}"
        context.log.error(message)
        return SensorResult(skip_reason=message)
    existing = context.instance.get_dynamic_partitions(company_partitions.name)
    wanted = [c.key for c in reg.companies]
    new, gone = sorted(set(wanted) - set(existing)), sorted(set(existing) - set(wanted))
    notes: list[str] = []

    held = _hold_back_removal(context, gone, len(existing))
    if held:
        notes.append(held)
        gone = []

    importable = {c.key for c in reg.importable_companies()}
    candidates = [key for key in new if key in importable]
    returning = _held_by_warehouse(warehouse, candidates)
    if returning:
        notes.append(f"registry sync: {len(returning)} companies are back in the registry and the warehouse still "
                     f"holds their rows; their partitions are added again without a full import (the nightly "
                     f"import refreshes them; `osr import full --company KEY` replaces one's history): "
                     f"{removal_guard.describe(returning)}")
    runs, cursor = _full_imports(context, [*existing, *new], reg, set(candidates) - set(returning))

    requests = []
    if new:
        requests.append(company_partitions.build_add_request(new))
    if gone:
        requests.append(company_partitions.build_delete_request(gone))
    requests.extend(_client_requests(context))
    if new or gone:
        context.log.info(f"registry sync: {len(new)} new companies ({len(candidates) - len(returning)} full imports "
                         f"in {len(runs)} runs), {len(gone)} removed")
    for note in notes:
        context.log.warning(note)
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests, cursor=cursor,
                        skip_reason=held if held and not runs else None)


def _hold_back_removal(context: SensorEvaluationContext, gone: list[str], partitions: int) -> str | None:
    """Why the removal of ``gone`` waits for a confirmation, or ``None`` when it may go ahead."""
    share = removal_guard.max_share()
    if not removal_guard.needs_confirmation(len(gone), partitions, share):
        removal_guard.release(context.instance)
        return None
    record = removal_guard.hold(context.instance, gone, partitions)
    return (f"registry sync: holding back the removal of {len(gone)} of {partitions} company partitions (since "
            f"{record.since}): the registry no longer lists {removal_guard.describe(gone)}. Losing more than "
            f"{share:.0%} of the companies at once looks like a damaged registry file; if it "
            f"is, restore it. If these companies are meant to go, run `{removal_guard.CONFIRM_COMMAND}` (it lists "
            f"them and removes their partitions), or remove them with `osr company remove`.")


def _held_by_warehouse(warehouse: WarehouseResource, keys: list[str]) -> list[str]:
    """Of new partitions, those whose company the warehouse holds rows of: it was here before."""
    if not keys:
        return []
    wh = warehouse.warehouse
    try:
        held = wh.companies_held(keys)
    finally:
        wh.dispose()
    return [key for key in keys if key in held]


def _full_imports(context: SensorEvaluationContext, partition_order: list[str], reg: Registry,
                  keys: set[str]) -> tuple[list[RunRequest], str | None]:
    """The full imports of ``keys``, batched over the partitions as this tick leaves them.

    The cursor counts the ticks that requested imports: a run key is the batch
    and that count, so evaluating one tick again launches nothing twice, while a
    company removed with its data and added again later is imported again.
    """
    if not keys:
        return [], context.cursor
    tick = int(context.cursor or 0) + 1
    runs = [RunRequest(run_key=f"full:{batch.keys[0]}..{batch.keys[-1]}:{tick}", run_config=run_config("full"),
                       partition_key=batch.keys[0] if len(batch.keys) == 1 else None, tags=batch_tags(batch))
            for batch in plan_batches(partition_order, reg, only=keys)]
    return runs, str(tick)


def _client_requests(context: SensorEvaluationContext) -> list:
    clients = set(consolidated_clients())
    known = set(context.instance.get_dynamic_partitions(client_partitions.name))
    requests = []
    if clients - known:
        requests.append(client_partitions.build_add_request(sorted(clients - known)))
    if known - clients:
        requests.append(client_partitions.build_delete_request(sorted(known - clients)))
    return requests
