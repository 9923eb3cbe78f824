"""The import assets: the general ledger and the dimensions, one partition per company.

One multi-asset step imports a company's selected assets: the dimensions first,
then the postings, then the checks. A run may cover one company or a range of
them (the nightly schedule batches each connection's companies, because a run
costs seconds of process start and a company a fraction of one). Either way
every company is loaded in its own transactions and reported as its own
partition: its materializations and check results are logged per company as
they happen, and a company that fails is logged and skipped, so the others
still load. The step fails at the end if any company failed; Dagster then shows
exactly those partitions as failed, and they can be retried alone.
"""

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MetadataValue,
    PreviewWarning,
    multi_asset,
)

from osr_pipelines.connectors.base import (
    DIMENSIONS,
    Connector,
    ConnectorError,
    EnteredSince,
    ProjectEconomics,
    SourceCount,
    SourceUnavailable,
    WarnsOfSource,
    Window,
)
from osr_pipelines.instance import hold_storage_connections
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Company, Connection, Registry
from osr_pipelines.resources import ErpConnections
from osr_pipelines.tags import OUTCOME_TAG, connection_of, partition_tags, range_tags
from osr_pipelines.warehouse.errors import warehouse_failure
from osr_pipelines.warehouse.integrity import dangling_references
from osr_pipelines.warehouse.loader import ENTERED, FULL, CompanyRow, LoadError, LoadResult, Warehouse

from .projects import import_project_economics
from .windows import ImportConfig, resolve_window, today_in_oslo

GROUP = "erp_import"
#: The op's name: run config of the import jobs goes under ``ops.import_company.config``.
OP_NAME = "import_company"
POSTINGS = AssetKey("gl_postings")
#: Metadata of a batch's step failure: failed company -> why.
FAILED_COMPANIES = "failed_companies"
#: Seconds between two progress events of one company's postings (rows and pages so far).
PROGRESS_EVERY_S = 1.0
#: A load keeping less than half of the rows it replaced is flagged (a warning, not a failure).
LARGE_DROP, LARGE_DROP_MIN_ROWS = 0.5, 100


def run_config(mode: str, window: Window | None = None, *, allow_shrink: bool = False) -> dict:
    """The import jobs' run config: a window mode, and the window itself where it is pinned."""
    op_config: dict = {"mode": mode}
    if window is not None:
        op_config.update(start=window.start.isoformat(), end=window.end.isoformat())
    if allow_shrink:
        op_config["allow_shrink"] = True
    return {"ops": {OP_NAME: {"config": op_config}}}


class CompanyFailed(Exception):
    """One company's import failed; the message is the paragraph a user acts on."""


@dataclass
class Source:
    company: Company
    connection: Connection
    connector: Connector


def _company(reg: Registry, key: str) -> tuple[Company, Connection]:
    try:
        company = reg.company(key)
    except KeyError:
        raise CompanyFailed(f"company '{key}' is not in the registry (was it removed?)") from None
    if company.detached:
        raise CompanyFailed(f"company '{key}': its connection '{company.connection}' was deleted; "
                            "the company keeps its data but is no longer updated")
    connection = reg.connection(company.connection)
    if connection.mode != "import":
        raise CompanyFailed(f"company '{key}': connection '{connection.name}' is a direct connection; "
                            "reports query it live and nothing is imported")
    return company, connection


@contextmanager
def open_source(reg: Registry, key: str, erp: ErpConnections, committed: list[str]) -> Iterator[Source]:
    """The company, its connection and an open connector; every failure becomes one ``CompanyFailed``.

    ``committed`` lists the company's loads of this run that committed before
    the failure, so the message says what stays rather than promising nothing changed.
    """
    company, connection = _company(reg, key)
    try:
        connector = erp.open(connection)
    except ConnectorError as exc:
        raise CompanyFailed(f"{exc} (company '{key}')") from None
    try:
        yield Source(company, connection, connector)
    except (ConnectorError, LoadError) as exc:  # the load under way rolled back
        if isinstance(exc, SourceUnavailable):
            erp.remember_unreachable(exc)  # the run's other companies on this ERP fail at once
        raise CompanyFailed(f"{exc} (company '{key}'; {_what_stays(committed)})") from None
    finally:
        connector.close()


def _tag_run(context: AssetExecutionContext) -> None:
    """Give runs launched outside the import jobs and schedules (the asset graph, ``asset materialize``, a
    ranged run launched by hand) the tags the jobs' runs carry."""
    keys = context.partition_keys
    wanted = partition_tags(keys[0]) if context.has_partition_key else range_tags(connection_of(keys[0]), keys)
    missing = {k: v for k, v in wanted.items() if k not in context.run.tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


RESOURCES = {"registry", "warehouse", "erp"}


def _specs() -> tuple[list[AssetSpec], list[AssetCheckSpec]]:
    """Assets and checks per company partition, so one company's failure is not hidden by another's pass.

    Partitioned checks are a preview in Dagster 1.13; its warning would print on every command.
    """
    assets = [
        AssetSpec(POSTINGS, group_name=GROUP, partitions_def=company_partitions, kinds={"sql"}, skippable=True,
                  description="General-ledger posting lines of one company; replaced by date window."),
        *(AssetSpec(d, group_name=GROUP, partitions_def=company_partitions, kinds={"sql"}, skippable=True,
                    description=f"The {d} of one company; replaced whole on every import.") for d in DIMENSIONS),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        checks = [
            AssetCheckSpec("vouchers_balance", asset=POSTINGS, partitions_def=company_partitions,
                           description="The postings of every voucher in the window sum to zero."),
            AssetCheckSpec("no_large_drop", asset=POSTINGS, partitions_def=company_partitions,
                           description=f"The load kept at least {1 - LARGE_DROP:.0%} of the rows it replaced "
                                       f"(checked from {LARGE_DROP_MIN_ROWS} rows on)."),
            AssetCheckSpec("row_count_matches_source", asset=POSTINGS, partitions_def=company_partitions,
                           description="Warehouse rows in the window equal the rows received and the count the "
                                       "ERP itself reported for the read (a warning where the ERP documents its "
                                       "count as approximate; stated where it reports none)."),
            AssetCheckSpec("dimensions_resolve", asset=POSTINGS, partitions_def=company_partitions,
                           description="Every account, department, project, customer and supplier the postings "
                                       "reference exists in the imported dimensions."),
        ]
    return assets, checks


def build_import_assets() -> list[AssetsDefinition]:
    """``gl_postings`` plus one asset per dimension, computed by one step per run (see the module doc)."""
    specs, checks = _specs()

    @multi_asset(name=OP_NAME, specs=specs, check_specs=checks, partitions_def=company_partitions,
                 can_subset=True, required_resource_keys=RESOURCES)
    def import_company(context: AssetExecutionContext, config: ImportConfig) -> Iterator[AssetCheckResult]:
        hold_storage_connections(context.instance)
        _tag_run(context)
        reg = context.resources.registry.load()
        warehouse: Warehouse = context.resources.warehouse.warehouse
        keys = context.partition_keys
        outcomes: dict[str, CompanyOutcome] = {}
        for key in keys:  # each company's log lines name it; a batch's table at the end lists them all
            started = time.perf_counter()
            committed: list[str] = []  # the company's loads that committed, for a failure's message
            try:
                with warehouse.company_lease(key) as free:
                    if not free:
                        raise CompanyFailed(
                            f"company '{key}': another import of it is running; this run left it alone. "
                            f"Retry it when that one ends (osr import {config.mode} --company {key}).")
                    rows = yield from _import(context, reg, warehouse, key, config, committed)
                outcomes[key] = CompanyOutcome(rows, time.perf_counter() - started)
            except CompanyFailed as exc:
                outcomes[key] = CompanyOutcome(None, time.perf_counter() - started, str(exc))
                context.log.error(str(exc))
            except Exception as exc:  # a defect met in one company's data must not cost the batch the rest
                known = warehouse_failure(exc)
                if known:
                    error = f"company '{key}': {known}; {_what_stays(committed)}"
                    context.log.error(error)
                else:
                    error = f"company '{key}': unexpected {type(exc).__name__}: {exc} (its loads rolled back)"
                    context.log.exception(error)
                outcomes[key] = CompanyOutcome(None, time.perf_counter() - started, error)
        _report_batch(context, outcomes)

    return [import_company]


@dataclass(frozen=True)
class CompanyOutcome:
    """How one company of a run went: postings written (None if they were not selected), seconds, or why it failed."""

    rows: int | None
    seconds: float
    error: str | None = None


def _report_batch(context: AssetExecutionContext, outcomes: dict[str, CompanyOutcome]) -> None:
    """A batch's companies and their outcomes, on the run (tag and log) and, where any failed, in the failure.

    Dagster shows a ranged run's partitions nowhere in its run list, so the run
    says what it did in a tag the Runs page shows, and lists each company in
    its log; a failure names each failed company in its metadata, which
    ``osr import`` reads.
    """
    failed = {key: o.error for key, o in outcomes.items() if o.error is not None}
    if len(outcomes) > 1:
        done = len(outcomes) - len(failed)
        context.instance.add_run_tags(context.run.run_id, {OUTCOME_TAG: f"{done} imported, {len(failed)} failed"})
        lines = [f"| {key} | {'failed' if o.error else 'imported'} | {'' if o.rows is None else o.rows} | "
                 f"{o.seconds:.1f} |" for key, o in outcomes.items()]
        context.log.info("companies of this run:\n| company | outcome | postings | seconds |\n|---|---|---:|---:|\n"
                         + "\n".join(lines))
    if failed:
        keys = list(outcomes)
        summary = failed[keys[0]] if len(keys) == 1 else (
            f"{len(failed)} of {len(keys)} companies failed; the other {len(keys) - len(failed)} are imported.\n"
            + "\n".join(failed.values()))
        raise Failure(summary, metadata={FAILED_COMPANIES: MetadataValue.json(failed)})


def _what_stays(committed: list[str]) -> str:
    """What a failure leaves of the company's import: each load commits alone, and the one under way rolled back."""
    if not committed:
        return "previous data left unchanged"
    return (f"the load under way was rolled back, its previous rows unchanged; {', '.join(committed)} had been "
            "imported and stay")


def _import(context: AssetExecutionContext, reg: Registry, warehouse: Warehouse, key: str,
            config: ImportConfig, committed: list[str]) -> Iterator[AssetCheckResult]:
    """One company: its selected dimensions, then its postings and their checks; returns the postings written."""
    selected = context.selected_asset_keys
    with open_source(reg, key, context.resources.erp, committed) as src:
        # Dagster 1.13 lists partitions by key only: the company's name and organisation number are shown here
        meta = {"connection": src.connection.name, "company_name": src.company.name,
                "organization_number": src.company.organization_number or "",
                **({"owner": src.connection.owner} if src.connection.private and src.connection.owner else {})}
        for dimension in DIMENSIONS:
            if AssetKey(dimension) not in selected:
                continue
            result = warehouse.load_dimension(
                key, dimension, src.connector.stream_dimension(src.company.erp_id, dimension),
                run_id=context.run.run_id, allow_shrink=config.allow_shrink)
            committed.append(dimension)
            context.log_event(AssetMaterialization(dimension, partition=key, metadata={
                "rows_written": result.rows_written, "rows_deleted": result.rows_deleted,
                "duration_s": round(result.seconds, 3), **meta}))
        if POSTINGS in selected and isinstance(src.connector, ProjectEconomics):
            import_project_economics(context, warehouse, src.connector, key, src.company.erp_id, config.mode,
                                     committed)
        if POSTINGS in selected:
            return (yield from _import_postings(context, warehouse, src, config, meta, committed))
    return None


def _import_postings(context: AssetExecutionContext, warehouse: Warehouse, src: Source, config: ImportConfig,
                     meta: dict[str, str], committed: list[str]) -> Iterator[AssetCheckResult]:
    key = src.company.key
    try:
        window, full = resolve_window(config, src.connection, today_in_oslo())
    except ValueError as exc:
        raise CompanyFailed(f"company '{key}': {exc}") from None
    if context.has_partition_key:  # a batch's companies say their window in their materializations: an event
        # write per company is a twelfth of a nightly company's cost
        context.log.info(f"importing postings of {key} for {window} "
                         f"({'full history' if full else 'window replace'})")
    progress = _Progress(context, key)

    # read before this run's load is logged: the catch-up below asks for what was entered since the last
    # load that covered every date (a full one) or the last catch-up that completed; not since the last window
    # load, which leaves out the days before it: after a failed catch-up, the next one asks again from there
    catches_up = src.connector if config.mode == "nightly" and isinstance(src.connector, EnteredSince) else None
    last_load = warehouse.last_load_started(key, "gl_postings", modes=(FULL, ENTERED)) if catches_up else None
    started = time.perf_counter()
    result = warehouse.load_postings(
        key,
        src.connector.stream_postings(src.company.erp_id, window),
        window=None if full else window,
        run_id=context.run.run_id,
        on_progress=progress.batch_loaded,
        allow_shrink=config.allow_shrink,
        # the company's row commits with its postings, so a failed first import leaves none
        company_row=CompanyRow(src.connection.name, src.company.erp_id, src.company.name, src.company.client,
                               src.company.organization_number or None),
    )
    committed.append(f"{result.rows_written:,} postings")
    reported = src.connector.source_count()
    source_warnings = (src.connector.source_warnings(src.company.erp_id)
                       if isinstance(src.connector, WarnsOfSource) else [])
    for warning in source_warnings:
        context.log.warning(f"company '{key}': {warning}")
    entered = (_entered_back_dated(context, warehouse, src, catches_up, window, last_load)
               if catches_up and last_load and not full else None)
    seconds = time.perf_counter() - started
    scope = None if full else window
    context.log_event(AssetMaterialization(POSTINGS, partition=key, metadata={
        "rows_written": result.rows_written,
        **({"back_dated_rows": entered.rows_written} if entered is not None else {}),
        "rows_deleted": result.rows_deleted,
        "window": str(window),
        "mode": "full" if full else config.mode,
        "duration_s": round(seconds, 3),
        "rows_per_s": round(result.rows_written / seconds) if seconds else 0,
        "erp_company": src.company.erp_id,
        **({"source_warnings": MetadataValue.json(source_warnings)} if source_warnings else {}),
        **meta,
    }))
    in_warehouse = warehouse.count_postings(key, scope)
    unbalanced = warehouse.unbalanced_vouchers(key, scope)
    dangling = dangling_references(warehouse.engine, key)
    checks = [
        ("vouchers_balance", not unbalanced, AssetCheckSeverity.ERROR,
         {"unbalanced_vouchers": len(unbalanced),
          "examples": MetadataValue.json([[str(v) for v in row] for row in unbalanced[:5]])}),
        ("no_large_drop", not _large_drop(result.rows_before, result.rows_written), AssetCheckSeverity.WARN,
         {"rows_before": result.rows_before, "rows_written": result.rows_written,
          "kept_ratio": round(result.rows_written / result.rows_before, 3) if result.rows_before else 1.0}),
        ("row_count_matches_source", *_count_check(in_warehouse, result.rows_written, reported)),
        ("dimensions_resolve", not dangling, AssetCheckSeverity.WARN,
         {d.column: MetadataValue.json({"missing_values": d.values, "postings": d.postings, "examples": d.examples})
          for d in dangling} or {"dangling": 0}),
    ]
    for name, passed, severity, metadata in checks:
        yield from _check_result(context, key, name, passed, severity, metadata)
    return result.rows_written


def _check_result(context: AssetExecutionContext, key: str, name: str, passed: bool, severity: AssetCheckSeverity,
                  metadata: dict) -> Iterator[AssetCheckResult]:
    """One company's check result, as the output Dagster expects when the run selected the check for one partition.

    The import jobs leave the checks out of their selection (``jobs.IMPORT_ASSETS``):
    a batch run has no single partition for a check output, so each company's
    result is logged as an evaluation on its own partition instead, and Dagster
    expects no outputs it would otherwise report as missing. A run of the asset
    graph (*Materialize*, ``dagster asset materialize``) selects the checks with
    their asset; for one partition it gets them as outputs.
    """
    if context.has_partition_key and AssetCheckKey(POSTINGS, name) in context.selected_asset_check_keys:
        yield AssetCheckResult(asset_key=POSTINGS, check_name=name, passed=passed, severity=severity,
                               metadata=metadata)
    else:
        context.log_event(AssetCheckEvaluation(asset_key=POSTINGS, check_name=name, passed=passed,
                                               severity=severity, metadata=metadata, partition=key))


class _Progress:
    """Structured progress events of one company's postings, so the UI and ``osr import`` show how far it is.

    Each batch a connector yields is one page of the ERP's answer. An event per
    page would cost an event-log write per page, so one is written at most every
    ``PROGRESS_EVERY_S`` seconds.
    """

    def __init__(self, context: AssetExecutionContext, key: str) -> None:
        self.context, self.key = context, key
        self.pages = 0
        self.last = time.monotonic()

    def batch_loaded(self, rows: int) -> None:
        self.pages += 1
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.context.log_event(AssetObservation(asset_key=POSTINGS, partition=self.key, metadata={
                "rows_loaded": rows, "pages_read": self.pages}))


#: Margin on "entered since the last load": clocks of the ERP and of the warehouse differ.
ENTERED_MARGIN = timedelta(hours=1)


def _entered_back_dated(context: AssetExecutionContext, warehouse: Warehouse, src: Source, connector: EnteredSince,
                        window: Window, last_load: datetime) -> LoadResult:
    """Vouchers entered since the last load but dated before the window: ``connector`` (the source's) lists them.

    The nightly replaces the last N days; a voucher back-dated into an earlier
    month would otherwise wait for the weekly year-to-date import. They are
    added by id, so the margin's overlap with the last run changes nothing.
    """
    since = (last_load - ENTERED_MARGIN).astimezone(UTC).replace(tzinfo=None)
    before = Window(date.fromisoformat(src.connection.history_start), window.start)
    try:
        result = warehouse.upsert_postings(
            src.company.key, connector.stream_postings_created_since(src.company.erp_id, before, since),
            run_id=context.run.run_id)
    except (ConnectorError, LoadError) as exc:
        raise CompanyFailed(
            f"{exc} (company '{src.company.key}'; the postings entered back-dated since {since:%Y-%m-%d %H:%M} UTC "
            f"were not added, while the window {window} had been replaced and stays: the next nightly asks for "
            f"what was entered since then again)") from None
    if result.rows_written:
        context.log.info(f"{src.company.key}: {result.rows_written} postings entered since {since:%Y-%m-%d %H:%M} UTC "
                         f"are dated before the window; added by id")
    return result


def _count_check(in_warehouse: int, received: int, reported: SourceCount) -> tuple[bool, AssetCheckSeverity, dict]:
    """The warehouse's rows against those received (exactly) and against the count the ERP itself reported.

    A count the ERP documents as exact must match: an error otherwise. One it
    documents as approximate (Tripletex's ``fullResultSize``: "not exact", with
    no bound given anywhere) judges nothing but the one difference that means
    something whatever its precision: rows reported and none received. Its
    figure and difference are kept in the metadata. Where the ERP reports no
    count, the check compares with the rows received and says so.
    """
    metadata: dict = {"warehouse_rows": in_warehouse, "rows_received": received,
                      "erp_reported_rows": reported.rows, "erp_count_field": reported.field,
                      "erp_count_exact": reported.exact}
    if reported.note:
        metadata["note"] = reported.note
    if in_warehouse != received:
        return False, AssetCheckSeverity.ERROR, metadata
    if reported.rows is None or reported.rows == in_warehouse:
        return True, AssetCheckSeverity.ERROR, metadata
    metadata["difference"] = in_warehouse - reported.rows
    if reported.exact:
        return False, AssetCheckSeverity.ERROR, metadata
    metadata["approximate"] = "the ERP documents this count as approximate; only 'rows reported, none received' fails"
    return not (received == 0 and reported.rows > 0), AssetCheckSeverity.WARN, metadata


def _large_drop(before: int, written: int) -> bool:
    """A load that replaced many rows with far fewer: an ERP-side deletion, or a source that lost data."""
    return before >= LARGE_DROP_MIN_ROWS and written < before * (1 - LARGE_DROP)
