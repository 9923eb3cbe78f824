"""The import assets: the general ledger and the dimensions, one partition per company.

Each asset resolves its partition to a registered company, opens that company's
connection through the ``erp`` resource, and streams the source into the warehouse's atomic loader.
The connector and the loader do the work; this module only wires and reports.
"""


import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetObservation,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    PreviewWarning,
    asset,
    asset_check,
)
from pydantic import Field

from osr_pipelines.connectors.base import DIMENSIONS, Connector, ConnectorError, SourceUnavailable
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Company, Connection
from osr_pipelines.resources import ErpConnections, RegistryResource
from osr_pipelines.tags import partition_tags
from osr_pipelines.warehouse.integrity import dangling_references
from osr_pipelines.warehouse.loader import CompanyRow, LoadError

from .windows import ImportConfig, resolve_window, today_in_oslo

GROUP = "erp_import"
PROGRESS_EVERY = 100_000
#: A load keeping less than half of the rows it replaced is flagged (a warning, not a failure).
LARGE_DROP, LARGE_DROP_MIN_ROWS = 0.5, 100


@dataclass
class Source:
    company: Company
    connection: Connection
    connector: Connector


@contextmanager
def open_source(context: AssetExecutionContext, registry: RegistryResource, erp: ErpConnections) -> Iterator[Source]:
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
    _tag_run(context, key)
    try:
        connector = erp.open(connection)
    except ConnectorError as exc:
        raise Failure(f"{exc} (company '{key}')") from None
    try:
        yield Source(company, connection, connector)
    except SourceUnavailable as exc:
        erp.remember_unreachable(exc)
        raise Failure(f"{exc} (company '{key}'; previous data left unchanged)") from None
    except (ConnectorError, LoadError) as exc:
        # The loader rolled back: the company's previous rows are untouched.
        raise Failure(f"{exc} (company '{key}'; previous data left unchanged)") from None
    finally:
        connector.close()


def _tag_run(context: AssetExecutionContext, key: str) -> None:
    """Give runs launched outside the import jobs (the asset graph, ``asset materialize``) the same tags."""
    missing = {k: v for k, v in partition_tags(key).items() if k not in context.run.tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


RESOURCES = {"registry", "warehouse", "erp"}


def build_import_assets() -> list[AssetsDefinition]:
    """``gl_postings`` plus one asset per dimension; they share partitions, resources and wiring."""
    return [_gl_postings(), *(_dimension_asset(d) for d in DIMENSIONS)]


def build_import_checks() -> list[AssetChecksDefinition]:
    """Checks that need every import asset of the run materialized first."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)

        @asset_check(asset="gl_postings", additional_deps=list(DIMENSIONS), partitions_def=company_partitions,
                     required_resource_keys={"warehouse"},
                     description="Every account, department, project, customer and supplier the postings "
                                 "reference exists in the imported dimensions.")
        def dimensions_resolve(context: AssetCheckExecutionContext) -> AssetCheckResult:
            dangling = dangling_references(context.resources.warehouse.warehouse.engine, context.partition_key)
            return AssetCheckResult(
                passed=not dangling,
                severity=AssetCheckSeverity.WARN,
                metadata={d.column: MetadataValue.json({"missing_values": d.values, "postings": d.postings,
                                                        "examples": d.examples}) for d in dangling}
                or {"dangling": 0},
            )

    return [dimensions_resolve]


def _check_specs() -> list[AssetCheckSpec]:
    """Checks per company partition, so one company's failure is not hidden by another's later pass.

    Partitioned checks are a preview in Dagster 1.13; its warning would print on every command.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return [
            AssetCheckSpec("vouchers_balance", asset="gl_postings", partitions_def=company_partitions,
                           description="The postings of every voucher in the window sum to zero."),
            AssetCheckSpec("no_large_drop", asset="gl_postings", partitions_def=company_partitions,
                           description=f"The load kept at least {1 - LARGE_DROP:.0%} of the rows it replaced "
                                       f"(checked from {LARGE_DROP_MIN_ROWS} rows on)."),
            AssetCheckSpec("row_count_matches_source", asset="gl_postings", partitions_def=company_partitions,
                           description="Warehouse rows in the window equal the rows the source sent."),
        ]


def _gl_postings() -> AssetsDefinition:
    @asset(
        name="gl_postings",
        group_name=GROUP,
        partitions_def=company_partitions,
        required_resource_keys=RESOURCES,
        kinds={"sql"},
        description="General-ledger posting lines of one company; replaced by date window.",
        check_specs=_check_specs(),
    )
    def gl_postings(context: AssetExecutionContext, config: ImportConfig) -> MaterializeResult:
        registry: RegistryResource = context.resources.registry
        warehouse = context.resources.warehouse.warehouse
        with open_source(context, registry, context.resources.erp) as src:
            try:
                window, full = resolve_window(config, src.connection, today_in_oslo())
            except ValueError as exc:
                raise Failure(f"company '{src.company.key}': {exc}") from None
            context.log.info(f"importing postings of {src.company.key} for {window} "
                             f"({'full history' if full else 'window replace'})")
            next_report = [PROGRESS_EVERY]

            def progress(rows: int) -> None:
                # a structured event, so the UI and `osr import` show how far a long load has come
                if rows >= next_report[0]:
                    context.log_event(AssetObservation(asset_key="gl_postings", partition=src.company.key,
                                                       metadata={"rows_loaded": rows}))
                    next_report[0] = rows + PROGRESS_EVERY

            started = time.perf_counter()
            result = warehouse.load_postings(
                src.company.key,
                src.connector.stream_postings(src.company.erp_id, window),
                window=None if full else window,
                run_id=context.run.run_id,
                on_progress=progress,
                allow_shrink=config.allow_shrink,
                # the company's row commits with its postings, so a failed first import leaves none
                company_row=CompanyRow(src.connection.name, src.company.erp_id, src.company.name,
                                       src.company.client),
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
                "company_name": src.company.name,
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
                    check_name="no_large_drop",
                    passed=not _large_drop(result.rows_before, result.rows_written),
                    severity=AssetCheckSeverity.WARN,
                    metadata={"rows_before": result.rows_before, "rows_written": result.rows_written,
                              "kept_ratio": round(result.rows_written / result.rows_before, 3)
                              if result.rows_before else 1.0},
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


def _large_drop(before: int, written: int) -> bool:
    """A load that replaced many rows with far fewer: an ERP-side deletion, or a source that lost data."""
    return before >= LARGE_DROP_MIN_ROWS and written < before * (1 - LARGE_DROP)


class DimensionConfig(Config):
    allow_shrink: bool = Field(default=False, description="let the load replace a non-empty dimension with nothing")


def _dimension_asset(dimension: str) -> AssetsDefinition:
    @asset(
        name=dimension,
        group_name=GROUP,
        partitions_def=company_partitions,
        required_resource_keys=RESOURCES,
        kinds={"sql"},
        description=f"The {dimension} of one company; replaced whole on every import.",
    )
    def _dimension(context: AssetExecutionContext, config: DimensionConfig) -> MaterializeResult:
        with open_source(context, context.resources.registry, context.resources.erp) as src:
            result = context.resources.warehouse.warehouse.load_dimension(
                src.company.key, dimension, src.connector.stream_dimension(src.company.erp_id, dimension),
                run_id=context.run.run_id, allow_shrink=config.allow_shrink)
        return MaterializeResult(metadata={
            "rows_written": result.rows_written,
            "rows_deleted": result.rows_deleted,
            "duration_s": round(result.seconds, 3),
            "connection": src.connection.name,
            "company_name": src.company.name,
        })

    return _dimension
