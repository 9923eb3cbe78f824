"""The report assets: per company the trial balance, income statement and balance sheet; per client the
consolidated income statement and balance sheet.

They compute on demand and keep only what they render: a Markdown table in the
materialization's metadata, and the HTML page (with its charts) and Excel file
it links to. The warehouse gains no tables, and a direct company's ledger,
asked of its ERP during the run, is never written anywhere.
"""

import time
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from osr_pipelines import settings
from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.registry import RegistryError
from osr_pipelines.reports import files, saft
from osr_pipelines.reports.build import NS4102, build_report
from osr_pipelines.reports.consolidation import (
    consolidate,
    consolidated_balance_sheet,
    consolidated_income_statement,
    latest_period,
    mismatch_table,
)
from osr_pipelines.reports.groups import client_setup
from osr_pipelines.reports.periods import label, parse_period
from osr_pipelines.reports.rates import MissingRate
from osr_pipelines.reports.source import ReportError, company_ledger
from osr_pipelines.reports.tables import amount, markdown

from .windows import today_in_oslo

GROUP = "reports"


def report_folder() -> Path:
    """Where materializations leave their HTML (with the charts) and Excel files: the same place as ``osr report``,
    read at run time so that the run's environment decides."""
    return settings.osr_home() / "reports"

_CHECKS = [
    AssetCheckSpec("sums_to_zero", asset="trial_balance",
                   description="The trial balance's closing balances, and its debits against credits, sum to "
                               "zero in every month."),
    AssetCheckSpec("closing_is_next_opening", asset="trial_balance",
                   description="Every account opens a month with the previous month's closing balance (across a "
                               "year end: result accounts at zero, their result carried to equity)."),
]


class ReportConfig(Config):
    """``period`` (``YYYY-MM``): the month to report; empty means the latest month with postings
    (of any of a client's companies; the current month for a direct connection)."""

    period: str = ""
    #: report lines: ``ns4102`` classes, or a SAF-T level: ``standard_account``, ``RF-1167``, ``RF-1175``
    group_by: str = NS4102


_COMPANY_REPORTS = {
    "trial-balance": "Per account and month: opening, debit, credit, movement and closing balance, in the company's "
                     "currency.",
    "income-statement": "The month, the year to date, and both a year earlier, by NS 4102 class or SAF-T code.",
    "balance-sheet": "Opening, movement and closing balance of the month, by NS 4102 section or SAF-T code.",
}


@multi_asset(
    name="company_reports",
    specs=[AssetSpec(kind.replace("-", "_"), group_name=GROUP, partitions_def=company_partitions,
                     deps=["gl_postings", "accounts"], kinds={"sql"}, description=description, skippable=True)
           for kind, description in _COMPANY_REPORTS.items()],
    check_specs=_CHECKS,
    can_subset=True,
    required_resource_keys={"registry", "warehouse"},
)
def company_reports(context: AssetExecutionContext, config: ReportConfig) -> Iterator[MaterializeResult]:
    """One step and one ledger query per company for all its reports: per-run and per-step costs are what a
    thousand companies' nightly reports spend most on."""
    company = context.partition_key
    started = time.perf_counter()
    try:
        period = parse_period(config.period, what=f"company '{company}': run config 'period'") \
            if config.period else None
        ledger, period, source = company_ledger(context.resources.registry.load(),
                                                context.resources.warehouse.warehouse.engine,
                                                company, period, today_in_oslo())
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        reports = [build_report(kind, ledger, period, config.group_by) for kind in _COMPANY_REPORTS
                   if kind.replace("-", "_") in selected]
    except (ReportError, RegistryError, ConnectorError, ValueError) as exc:
        raise Failure(str(exc)) from None
    context.log.info(f"{', '.join(r.kind for r in reports)} of {company} for {label(period)} from the {source}")
    for report in reports:
        name = report.kind.replace("-", "_")
        checks = []
        if name == "trial_balance":
            unbalanced, broken = report.unbalanced, report.broken_carry_forward
            checks = [
                AssetCheckResult(asset_key=name, check_name="sums_to_zero", passed=not unbalanced,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"months_off": len(unbalanced), "examples": MetadataValue.json(
                                     [[label(d.period), str(d.found)] for d in unbalanced[:5]])}),
                AssetCheckResult(asset_key=name, check_name="closing_is_next_opening", passed=not broken,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"accounts_off": len(broken), "examples": MetadataValue.json(
                                     [[label(d.period), d.account, str(d.expected), str(d.found)]
                                      for d in broken[:5]])}),
            ]
        page, book = files.write(files.company_document(report), report_folder())
        yield MaterializeResult(
            asset_key=name,
            metadata={
                "report": MetadataValue.md("\n\n".join(markdown(t) for t in report.tables)),
                "html": MetadataValue.path(str(page)),
                "excel": MetadataValue.path(str(book)),
                "period": label(period),
                "currency": report.currency,
                "source": source,
                "accounts": len({r.account for r in report.trial_balance.rows}),
                "duration_s": round(time.perf_counter() - started, 3),
            },
            check_results=checks,
        )


_CLIENT_REPORTS = {
    "consolidated_income_statement": (consolidated_income_statement, "A client's companies year to date in its "
                                      "currency, intercompany amounts eliminated in their own column."),
    "consolidated_balance_sheet": (consolidated_balance_sheet, "A client's companies' closing balances in its "
                                   "currency, with the translation difference and the eliminations in their own "
                                   "column."),
}


@multi_asset(
    name="client_reports",
    specs=[AssetSpec(name, group_name=GROUP, partitions_def=client_partitions, kinds={"sql"}, description=text,
                     deps=[AssetDep("gl_postings", partition_mapping=AllPartitionMapping())], skippable=True)
           for name, (_, text) in _CLIENT_REPORTS.items()],
    check_specs=[spec for name in _CLIENT_REPORTS for spec in (
        AssetCheckSpec("consolidated_sums_to_zero", asset=name,
                       description="After eliminations the consolidated trial balance still sums to zero."),
        AssetCheckSpec("intercompany_matches", asset=name,
                       description="Intercompany amounts of every two companies cancel out; those that do not "
                                   "are listed with their amounts."))],
    can_subset=True,
    required_resource_keys={"registry", "warehouse"},
)
def client_reports(context: AssetExecutionContext, config: ReportConfig) -> Iterator[MaterializeResult]:
    """Both consolidated reports of a client from one consolidation."""
    client = context.partition_key
    engine = context.resources.warehouse.warehouse.engine
    try:
        group = client_setup(context.resources.registry.load(), client)
        period = (parse_period(config.period, what=f"client '{client}': run config 'period'") if config.period
                  else latest_period(engine, group.setup.companies, client))
        result = consolidate(engine, group.setup, group.rates(), period)
        lines = None if config.group_by == NS4102 else saft.groupings(config.group_by)
    except (MissingRate, ConnectorError) as exc:
        raise Failure(f"client '{client}': {exc}") from None
    except (RegistryError, ValueError) as exc:
        raise Failure(str(exc)) from None
    off = result.unbalanced()
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    for name, (render, _) in _CLIENT_REPORTS.items():
        if name not in selected:
            continue
        kind = "income-statement" if name == "consolidated_income_statement" else "balance-sheet"
        page, book = files.write(files.client_document(result, kind, lines), report_folder())
        yield MaterializeResult(
            asset_key=name,
            metadata={"report": MetadataValue.md(markdown(render(result, lines))), "period": label(period),
                      "html": MetadataValue.path(str(page)), "excel": MetadataValue.path(str(book)),
                      "currency": result.currency, "companies": len(result.companies)},
            check_results=[
                AssetCheckResult(asset_key=name, check_name="consolidated_sums_to_zero", passed=not off,
                                 severity=AssetCheckSeverity.ERROR, metadata={"sum": amount(off)}),
                AssetCheckResult(asset_key=name, check_name="intercompany_matches", passed=not result.mismatches,
                                 severity=AssetCheckSeverity.WARN,
                                 metadata={"mismatches": MetadataValue.md(markdown(mismatch_table(result)))}),
            ],
        )


REPORT_ASSETS: list[AssetsDefinition] = [company_reports, client_reports]
