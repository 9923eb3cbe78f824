"""The import assets: the general ledger and the dimensions, one partition per company.

Each asset resolves its partition to a registered company, opens that company's
connection resource, and streams the source into the warehouse's atomic loader.
The connector and the loader do the work; this module only wires and reports.
"""


import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from osr_pipelines.connectors.base import DIMENSIONS, Connector, ConnectorError
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Company, Connection
from osr_pipelines.resources import RegistryResource, resource_key
from osr_pipelines.warehouse.loader import LoadError

from .windows import ImportConfig, resolve_window, today_in_oslo

GROUP = "erp_import"
PROGRESS_EVERY = 100_000


@dataclass
class Source:
    company: Company
    connection: Connection
    connector: Connector


@contextmanager
def open_source(context: AssetExecutionContext, registry: RegistryResource) -> Iterator[Source]:
    """The partition's company, its connection and an open connector, or a clear failure."""
    key = context.partition_key
    reg = registry.load()
    try:
        company = reg.company(key)
    except KeyError:
        raise Failure(f"company '{key}' is not in the registry (was it removed?)") from None
    if company.detached:
        raise Failure(f"company '{key}': its connection '{company.connection}' was deleted; "
                      "the company keeps its data but is no longer updated")
    connection = reg.connection(company.connection)
    if connection.mode != "import":
        raise Failure(f"company '{key}': connection '{connection.name}' is a direct connection; "
                      "reports query it live and nothing is imported")
    resource = getattr(context.resources, resource_key(connection.name), None)
    if resource is None:
        raise Failure(f"company '{key}': connection '{connection.name}' was added after this code location "
                      "was loaded; reload the code location")
    try:
        connector = resource.connector()
    except ConnectorError as exc:
        raise Failure(str(exc)) from None
    try:
        yield Source(company, connection, connector)
    except (ConnectorError, LoadError) as exc:
        # The loader rolled back: the company's previous rows are untouched.
        raise Failure(f"{exc} (company '{key}'; previous data left unchanged)") from None
    finally:
        connector.close()


def _resource_keys(connection_keys: set[str]) -> set[str]:
    return {"registry", "warehouse", *connection_keys}


def build_import_assets(connection_keys: set[str]) -> list[AssetsDefinition]:
    """``gl_postings`` plus one asset per dimension; they share partitions, resources and wiring."""
    return [_gl_postings(connection_keys), *(_dimension_asset(d, connection_keys) for d in DIMENSIONS)]


def _gl_postings(connection_keys: set[str]) -> AssetsDefinition:
    @asset(
        name="gl_postings",
        group_name=GROUP,
        partitions_def=company_partitions,
        required_resource_keys=_resource_keys(connection_keys),
        kinds={"sql"},
        description="General-ledger posting lines of one company; replaced by date window.",
        check_specs=[
            AssetCheckSpec("vouchers_balance", asset="gl_postings",
                           description="The postings of every voucher in the window sum to zero."),
            AssetCheckSpec("row_count_matches_source", asset="gl_postings",
                           description="Warehouse rows in the window equal the rows the source sent."),
        ],
    )
    def gl_postings(context: AssetExecutionContext, config: ImportConfig) -> MaterializeResult:
        registry: RegistryResource = context.resources.registry
        warehouse = context.resources.warehouse.warehouse
        with open_source(context, registry) as src:
            try:
                window, full = resolve_window(config, src.connection, today_in_oslo())
            except ValueError as exc:
                raise Failure(f"company '{src.company.key}': {exc}") from None
            warehouse.upsert_company(src.company.key, connection=src.connection.name, erp_id=src.company.erp_id,
                                     name=src.company.name, client=src.company.client)
            context.log.info(f"importing postings of {src.company.key} for {window} "
                             f"({'full history' if full else 'window replace'})")
            next_report = [PROGRESS_EVERY]

            def progress(rows: int) -> None:
                if rows >= next_report[0]:
                    context.log.info(f"{rows:,} postings loaded")
                    next_report[0] = rows + PROGRESS_EVERY

            started = time.perf_counter()
            result = warehouse.load_postings(
                src.company.key,
                src.connector.stream_postings(src.company.erp_id, window),
                window=None if full else window,
                run_id=context.run.run_id,
                on_progress=progress,
            )
        seconds = time.perf_counter() - started
        in_warehouse = warehouse.count_postings(src.company.key, None if full else window)
        unbalanced = warehouse.unbalanced_vouchers(src.company.key, None if full else window)
        return MaterializeResult(
            metadata={
                "rows_written": result.rows_written,
                "rows_deleted": result.rows_deleted,
                "source_rows": result.rows_written,
                "window": str(window),
                "mode": "full" if full else config.mode,
                "duration_s": round(seconds, 3),
                "rows_per_s": round(result.rows_written / seconds) if seconds else 0,
                "connection": src.connection.name,
                "erp_company": src.company.erp_id,
            },
            check_results=[
                AssetCheckResult(
                    check_name="vouchers_balance",
                    passed=not unbalanced,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"unbalanced_vouchers": len(unbalanced),
                              "examples": MetadataValue.json([[str(v) for v in row] for row in unbalanced[:5]])},
                ),
                AssetCheckResult(
                    check_name="row_count_matches_source",
                    passed=in_warehouse == result.rows_written,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"warehouse_rows": in_warehouse, "source_rows": result.rows_written},
                ),
            ],
        )

    return gl_postings


def _dimension_asset(dimension: str, connection_keys: set[str]) -> AssetsDefinition:
    @asset(
        name=dimension,
        group_name=GROUP,
        partitions_def=company_partitions,
        required_resource_keys=_resource_keys(connection_keys),
        kinds={"sql"},
        description=f"The {dimension} of one company; replaced whole on every import.",
    )
    def _dimension(context: AssetExecutionContext) -> MaterializeResult:
        with open_source(context, context.resources.registry) as src:
            result = context.resources.warehouse.warehouse.load_dimension(
                src.company.key, dimension, src.connector.stream_dimension(src.company.erp_id, dimension),
                run_id=context.run.run_id)
        return MaterializeResult(metadata={
            "rows_written": result.rows_written,
            "rows_deleted": result.rows_deleted,
            "duration_s": round(result.seconds, 3),
            "connection": src.connection.name,
        })

    return _dimension
