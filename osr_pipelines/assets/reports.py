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
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetMaterialization,
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
from osr_pipelines.instance import hold_storage_connections
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.registry import RegistryError
from osr_pipelines.reports import budgets, files, saft
from osr_pipelines.reports import warnings as checks
from osr_pipelines.reports.build import NS4102, build_report, ledger_signs
from osr_pipelines.reports.consolidation import (
    consolidate,
    consolidated_balance_sheet,
    consolidated_income_statement,
    latest_period,
    mismatch_table,
    off_the_lines,
)
from osr_pipelines.reports.groups import client_setup
from osr_pipelines.reports.language import text
from osr_pipelines.reports.ledger import warehouse_period_range
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
                               "zero in every month; the vouchers that do not balance are named."),
    AssetCheckSpec("closing_is_next_opening", asset="trial_balance",
                   description="Every account opens a month with the previous month's closing balance (across a "
                               "year end: result accounts at zero, their result carried to equity)."),
    AssetCheckSpec("sides_agree", asset="balance_sheet",
                   description="Sum eiendeler equals Sum egenkapital og gjeld, now and at last year's 31 December."),
    *(AssetCheckSpec("accounts_on_lines", asset=name,
                     description="Every account with an amount falls on a line of the report (the statutory "
                                 "layout's, or the SAF-T grouping's); those that do not are named.")
      for name in ("income_statement", "balance_sheet")),
    *(AssetCheckSpec("period_in_data", asset=name,
                     description="The month reported lies within the months the company's postings cover.")
      for name in ("trial_balance", "income_statement", "balance_sheet")),
]


class ReportConfig(Config):
    """``period`` (``YYYY-MM``): the month to report; empty means the latest month with postings
    (of any of a client's companies; the current month for a direct connection)."""

    period: str = ""
    #: report lines: ``ns4102`` (the statutory layout), or a SAF-T level: ``standard_account``, ``RF-1167``,
    #: ``RF-1175``
    group_by: str = NS4102
    #: the reports' language: ``nb`` (Norwegian) or ``en``
    lang: str = "nb"
    #: ``statement`` (income, equity and liabilities positive) or ``ledger`` (debit positive)
    signs: str = "statement"


_COMPANY_REPORTS = {
    "trial-balance": "Per account and month: opening, debit, credit, movement and closing balance, in the company's "
                     "currency.",
    "income-statement": "The month, the year to date, and both a year earlier (and the month's budget where the "
                        "company has budgets), in the statutory layout (regnskapsloven § 6-1) by NS 4102 account, "
                        "or by SAF-T code.",
    "balance-sheet": "The month's closing balance against last year's 31 December, in the statutory layout "
                     "(regnskapsloven § 6-2) by NS 4102 account, or by SAF-T code.",
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
    thousand companies' nightly reports spend most on. A run over a range of companies (the report batch
    after an import batch, ``sensors.reports``) logs each company's materializations and check results on
    its own partition, and one company's failure costs the others nothing."""
    if context.has_partition_key:
        yield from _company_reports(context, config, context.partition_key)
        return
    hold_storage_connections(context.instance)  # a dozen events per company: a connection each otherwise
    failed = []
    for company in context.partition_keys:
        try:
            for result in _company_reports(context, config, company):
                context.log_event(AssetMaterialization(result.asset_key, partition=company, metadata=result.metadata))
                for check in result.check_results or []:
                    context.log_event(AssetCheckEvaluation(
                        asset_key=check.asset_key, check_name=check.check_name, passed=check.passed,
                        severity=check.severity, metadata=check.metadata, partition=company))
        except Failure as exc:
            context.log.error(exc.description or str(exc))
            failed.append(company)
        except Exception as exc:  # a defect met in one company's data must not cost the batch the others' reports
            context.log.exception(f"company '{company}': unexpected {type(exc).__name__}: {exc}")
            failed.append(company)
    if failed:
        raise Failure(f"reports of {len(failed)} of {len(context.partition_keys)} companies failed (see the log): "
                      f"{', '.join(failed[:20])}{' ...' if len(failed) > 20 else ''}")


def _company_reports(context: AssetExecutionContext, config: ReportConfig,
                     company: str) -> Iterator[MaterializeResult]:
    started = time.perf_counter()
    try:
        period = parse_period(config.period, what=f"company '{company}': run config 'period'") \
            if config.period else None
        registry = context.resources.registry.load()
        engine = context.resources.warehouse.warehouse.engine
        ledger, period, source = company_ledger(registry, engine, company, period, today_in_oslo())
        selected = {key.to_user_string() for key in context.selected_asset_keys}
        reports = [build_report(kind, ledger, period, config.group_by, lang=config.lang, signs=config.signs,
                                budget=budgets.report_budget(engine, company, kind, period, source))
                   for kind in _COMPANY_REPORTS
                   if kind.replace("-", "_") in selected]
    except (ReportError, RegistryError, ConnectorError, ValueError) as exc:
        raise Failure(str(exc)) from None
    context.log.info(f"{', '.join(r.kind for r in reports)} of {company} for {label(period)} from the {source}")
    name = next((c.name for c in registry.companies if c.key == company and c.name), company)
    outside = checks.outside_data(name, period, warehouse_period_range(engine, company), config.lang) \
        if source == "warehouse" and config.period else None
    notes = [] if config.period else [n for n in [checks.partly_booked(
        period, today_in_oslo(), checks.last_voucher_date(engine, company, period) if source == "warehouse" else None,
        config.lang)] if n]
    vouchers = None
    for report in reports:
        if report.unbalanced and source == "warehouse" and vouchers is None:
            vouchers = checks.unbalanced_vouchers(context.resources.warehouse.warehouse, company, period)
        key = report.kind.replace("-", "_")
        found = [w for w in [outside] if w] + checks.for_report(report, name, vouchers)
        results = [AssetCheckResult(asset_key=key, check_name="period_in_data", passed=outside is None,
                                    severity=AssetCheckSeverity.ERROR, metadata={"warning": outside or ""})]
        if key == "trial_balance":
            unbalanced, broken = report.unbalanced, report.broken_carry_forward
            results += [
                AssetCheckResult(asset_key=key, check_name="sums_to_zero", passed=not unbalanced,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"months_off": len(unbalanced), "examples": MetadataValue.json(
                                     [[label(d.period), str(d.found)] for d in unbalanced[:5]]),
                                     "vouchers": MetadataValue.json([[v.number, v.first_date.isoformat(),
                                                                      str(v.total)] for v in (vouchers or [])[:20]])}),
                AssetCheckResult(asset_key=key, check_name="closing_is_next_opening", passed=not broken,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"accounts_off": len(broken), "examples": MetadataValue.json(
                                     [[label(d.period), d.account, str(d.expected), str(d.found)]
                                      for d in broken[:5]])}),
            ]
        else:
            results.append(AssetCheckResult(asset_key=key, check_name="accounts_on_lines", passed=not report.unmapped,
                                            severity=AssetCheckSeverity.ERROR,
                                            metadata={"accounts": MetadataValue.json(report.unmapped[:50])}))
        if key == "balance_sheet":
            results.append(AssetCheckResult(asset_key=key, check_name="sides_agree",
                                            passed=not report.balance_difference, severity=AssetCheckSeverity.ERROR,
                                            metadata={"difference": MetadataValue.json(
                                                [str(d) for d in report.balance_difference])}))
        page, book = files.write(files.company_document(report, name, found, notes), report_folder())
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "report": MetadataValue.md("\n\n".join(markdown(t, config.lang) for t in report.tables)),
                "warnings": MetadataValue.md("\n".join(f"- {w}" for w in found) or text("none", config.lang)),
                "html": MetadataValue.path(str(page)),
                "excel": MetadataValue.path(str(book)),
                "period": label(period),
                "currency": report.currency,
                "source": source,
                "accounts": len({r.account for r in report.trial_balance.rows}),
                "duration_s": round(time.perf_counter() - started, 3),
            },
            check_results=results,
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
                                   "are listed with their amounts."),
        AssetCheckSpec("accounts_on_lines", asset=name,
                       description="Every company's account with an amount falls on a line of the statutory "
                                   "layout; those that do not are named."))],
    can_subset=True,
    required_resource_keys={"registry", "warehouse"},
)
def client_reports(context: AssetExecutionContext, config: ReportConfig) -> Iterator[MaterializeResult]:
    """Both consolidated reports of a client from one consolidation."""
    client = context.partition_key
    engine = context.resources.warehouse.warehouse.engine
    try:
        ledger_signs(config.signs)  # an unknown choice fails the run before anything is read
        registry = context.resources.registry.load()
        group = client_setup(registry, client)
        period = (parse_period(config.period, what=f"client '{client}': run config 'period'") if config.period
                  else latest_period(engine, group.setup.companies, client))
        result = consolidate(engine, group.setup, group.rates(), period)
        lines = None if config.group_by == NS4102 else saft.groupings(config.group_by, stated=result.groups)
    except (MissingRate, ConnectorError) as exc:
        raise Failure(f"client '{client}': {exc}") from None
    except (RegistryError, ValueError) as exc:
        raise Failure(str(exc)) from None
    off = result.unbalanced()
    names = {c.key: c.name or c.key for c in registry.companies}
    found = checks.for_consolidation(result, names, config.lang)
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    for name, (render, _) in _CLIENT_REPORTS.items():
        if name not in selected:
            continue
        kind = "income-statement" if name == "consolidated_income_statement" else "balance-sheet"
        unplaced = {} if lines is not None else off_the_lines(result, kind)
        warned = found + checks.off_the_consolidated_lines(result, unplaced, names, config.lang)
        page, book = files.write(files.client_document(result, kind, lines, lang=config.lang, names=names,
                                                       warnings=warned, signs=config.signs),
                                 report_folder())
        table = render(result, lines, lang=config.lang, signs=config.signs)
        yield MaterializeResult(
            asset_key=name,
            metadata={"report": MetadataValue.md(markdown(table, config.lang, names)),
                      "period": label(period),
                      "warnings": MetadataValue.md("\n".join(f"- {w}" for w in warned) or text("none", config.lang)),
                      "html": MetadataValue.path(str(page)), "excel": MetadataValue.path(str(book)),
                      "currency": result.currency, "companies": len(result.companies)},
            check_results=[
                AssetCheckResult(asset_key=name, check_name="consolidated_sums_to_zero", passed=not off,
                                 severity=AssetCheckSeverity.ERROR, metadata={"sum": amount(off)}),
                AssetCheckResult(asset_key=name, check_name="accounts_on_lines", passed=not unplaced,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"accounts": MetadataValue.json(
                                     {names.get(co, co): accounts for co, accounts in unplaced.items()})}),
                AssetCheckResult(asset_key=name, check_name="intercompany_matches", passed=not result.mismatches,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"mismatches": MetadataValue.md(markdown(mismatch_table(result), config.lang,
                                                                                   names=names))}),
            ],
        )


REPORT_ASSETS: list[AssetsDefinition] = [company_reports, client_reports]
