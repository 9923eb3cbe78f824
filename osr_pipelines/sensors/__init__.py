"""Keeps the company partitions in step with the registry, and the client partitions of the
consolidated reports in step with the group file.

New companies get their partition and their full import in the same tick, so
a company is never left registered but empty; companies gone from the registry
lose their partition. Detached companies (their import connection was deleted)
keep theirs: their data stays until the company itself is removed.
"""


from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, sensor

from osr_pipelines.jobs import full_import
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.reports.groups import consolidated_clients
from osr_pipelines.resources import RegistryResource
from osr_pipelines.tags import CONNECTION_TAG


@sensor(job=full_import, minimum_interval_seconds=30, default_status=DefaultSensorStatus.RUNNING)
def registry_sync(context: SensorEvaluationContext, registry: RegistryResource) -> SensorResult:
    reg = registry.load()
    wanted = {c.key for c in reg.companies}
    existing = set(context.instance.get_dynamic_partitions(company_partitions.name))
    new, gone = sorted(wanted - existing), sorted(existing - wanted)
    importable = {c.key: c for c in reg.importable_companies()}
    runs = [RunRequest(partition_key=key, tags={CONNECTION_TAG: importable[key].connection})
            for key in new if key in importable]
    requests = []
    if new:
        requests.append(company_partitions.build_add_request(new))
    if gone:
        requests.append(company_partitions.build_delete_request(gone))
    clients = set(consolidated_clients())
    known_clients = set(context.instance.get_dynamic_partitions(client_partitions.name))
    if clients - known_clients:
        requests.append(client_partitions.build_add_request(sorted(clients - known_clients)))
    if known_clients - clients:
        requests.append(client_partitions.build_delete_request(sorted(known_clients - clients)))
    if new or gone:
        context.log.info(f"registry sync: {len(new)} new companies ({len(runs)} full imports), {len(gone)} removed")
    return SensorResult(run_requests=runs, dynamic_partitions_requests=requests)
