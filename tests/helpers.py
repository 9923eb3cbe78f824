"""Comparisons shared by the tests: what the source holds against what the warehouse holds."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner, Result
from dagster import DagsterInstance, RunRequest, SensorResult, build_sensor_context, execute_job
from sqlalchemy import select

from osr_pipelines.cli.main import cli
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.definitions import build_definitions
from osr_pipelines.resources import RegistryResource, WarehouseResource
from osr_pipelines.runner import import_job
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings, metadata

ROOT = Path(__file__).resolve().parents[1]


def normalise(posting_id: str, voucher: str, day: object, account: str, amount: object, text: str | None) -> tuple:
    return (posting_id, voucher, str(day), account, f"{float(amount):.2f}", text)


def source_rows(books: SyntheticBooks, erp_id: str, window: Window) -> set[tuple]:
    return {normalise(r[0], r[1], r[2], r[4], r[5], r[8])
            for batch in books.postings_in(erp_id, window) for r in batch}


def warehouse_rows(wh: Warehouse, company: str, window: Window | None = None) -> set[tuple]:
    c = gl_postings.c
    query = select(c.posting_id, c.voucher_number, c.voucher_date, c.account, c.amount, c.description).where(
        c.company == company)
    if window is not None:
        query = query.where(c.voucher_date >= window.start, c.voucher_date < window.end)
    with wh.engine.connect() as conn:
        return {normalise(*row) for row in conn.execute(query)}


def all_rows_with_run(wh: Warehouse, company: str) -> set[tuple]:
    """Every column, including the run id: proves whether a load touched a row."""
    with wh.engine.connect() as conn:
        return {tuple(map(str, r)) for r in conn.execute(select(gl_postings).where(gl_postings.c.company == company))}


def cell(value: object) -> object:
    """A value as both warehouses and the sources compare: amounts to the cent, dates and UTC times as ISO text
    (SQLite keeps a timestamp as the text it was given, PostgreSQL as a time without its zone)."""
    if isinstance(value, Decimal | float):
        return f"{float(value):.2f}"
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def company_rows(wh: Warehouse, table: str, company: str) -> set[tuple]:
    """Every row a company has in ``table``, each column but the company and the run id, through :func:`cell`."""
    t = metadata.tables[table]
    columns = [c for c in t.c if c.name not in ("company", "import_run_id")]
    with wh.engine.connect() as conn:
        return {tuple(map(cell, row)) for row in conn.execute(select(*columns).where(t.c.company == company))}


def run_request(instance: DagsterInstance, job_name: str, request: RunRequest) -> tuple[bool, str]:
    """Execute a run request the way the daemon would: same job, partition, tags and config."""
    tags = {**request.tags, **({"dagster/partition": request.partition_key} if request.partition_key else {})}
    run_config = dict(request.run_config or {})
    with execute_job(import_job(job_name.removesuffix("_import")), instance=instance, tags=tags,
                     run_config=run_config, raise_on_error=False) as result:
        return result.success, result.run_id


def tick(instance: DagsterInstance, registry: Path, warehouse_url: str, cursor: str | None = None) -> SensorResult:
    """One sensor tick, with its partition requests applied as the daemon applies them."""
    defs = build_definitions(registry, warehouse_url)
    sensor = defs.resolve_sensor_def("registry_sync")
    # a context manager, as the daemon opens one: the warehouse resource disposes its engine when the tick ends
    with build_sensor_context(instance=instance, instance_ref=instance.get_ref(), definitions=defs,
                              cursor=cursor, resources={"registry": RegistryResource(path=str(registry)),
                                                        "warehouse": WarehouseResource(url=warehouse_url)}) as context:
        result = sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        if type(request).__name__ == "AddDynamicPartitionsRequest":
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    return result


def osr(*args: str, ok: bool = True, input: str | None = None) -> Result:
    """Run the ``osr`` command in-process; with ``ok``, it must succeed."""
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def readme_block(heading: str) -> str:
    """The first ``bash`` block after ``heading`` in the README, exactly as written."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index(heading):]
    return re.search(r"```bash\n(.*?)```", after, re.S).group(1)
