"""The report assets: trial balance, income statement and balance sheet, one partition per company.

They compute on demand and keep only what they render, in the materialization's
metadata: the warehouse gains no tables, and a direct company's ledger, asked
of its ERP during the run, is never written anywhere.
"""

import time

from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.registry import RegistryError
from osr_pipelines.reports.build import NS4102, build_report
from osr_pipelines.reports.consolidation import (
    consolidate,
    consolidated_balance_sheet,
    consolidated_income_statement,
    latest_period,
)
from osr_pipelines.reports.groups import client_setup
from osr_pipelines.reports.periods import label, parse_period
from osr_pipelines.reports.rates import MissingRate
from osr_pipelines.reports.source import ReportError, company_ledger
from osr_pipelines.reports.tables import Row, Table, amount, markdown

from .windows import today_in_oslo

GROUP = "reports"

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


def _report_asset(kind: str, description: str, check_specs: list[AssetCheckSpec]) -> AssetsDefinition:
    name = kind.replace("-", "_")

    @asset(
        name=name,
        group_name=GROUP,
        partitions_def=company_partitions,
        deps=["gl_postings", "accounts"],
        required_resource_keys={"registry", "warehouse"},
        kinds={"sql"},
        description=description,
        check_specs=check_specs,
    )
    def _report(context: AssetExecutionContext, config: ReportConfig) -> MaterializeResult:
        company = context.partition_key
        started = time.perf_counter()
        try:
            period = parse_period(config.period, what=f"company '{company}': run config 'period'") \
                if config.period else None
            ledger, period, source = company_ledger(context.resources.registry.load(),
                                                    context.resources.warehouse.warehouse.engine,
                                                    company, period, today_in_oslo())
            report = build_report(kind, ledger, period, config.group_by)
        except (ReportError, RegistryError, ValueError) as exc:
            raise Failure(str(exc)) from None
        context.log.info(f"{kind} of {company} for {label(period)} from the {source}")
        checks = []
        if check_specs:
            unbalanced, broken = report.unbalanced, report.broken_carry_forward
            checks = [
                AssetCheckResult(check_name="sums_to_zero", passed=not unbalanced,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"months_off": len(unbalanced), "examples": MetadataValue.json(
                                     [[label(d.period), str(d.found)] for d in unbalanced[:5]])}),
                AssetCheckResult(check_name="closing_is_next_opening", passed=not broken,
                                 severity=AssetCheckSeverity.ERROR,
                                 metadata={"accounts_off": len(broken), "examples": MetadataValue.json(
                                     [[label(d.period), d.account, str(d.expected), str(d.found)]
                                      for d in broken[:5]])}),
            ]
        return MaterializeResult(
            metadata={
                "report": MetadataValue.md("\n\n".join(markdown(t) for t in report.tables)),
                "period": label(period),
                "currency": report.currency,
                "source": source,
                "accounts": len({r.account for r in report.trial_balance.rows}),
                "duration_s": round(time.perf_counter() - started, 3),
            },
            check_results=checks,
        )

    return _report


def _consolidated_asset(name: str, render, description: str) -> AssetsDefinition:
    checks = [
        AssetCheckSpec("consolidated_sums_to_zero", asset=name,
                       description="After eliminations the consolidated trial balance still sums to zero."),
        AssetCheckSpec("intercompany_matches", asset=name,
                       description="Intercompany amounts of every two companies cancel out; those that do not "
                                   "are listed with their amounts."),
    ]

    @asset(
        name=name,
        group_name=GROUP,
        partitions_def=client_partitions,
        deps=[AssetDep("gl_postings", partition_mapping=AllPartitionMapping())],
        required_resource_keys={"registry", "warehouse"},
        kinds={"sql"},
        description=description,
        check_specs=checks,
    )
    def _consolidated(context: AssetExecutionContext, config: ReportConfig) -> MaterializeResult:
        client = context.partition_key
        engine = context.resources.warehouse.warehouse.engine
        try:
            group = client_setup(context.resources.registry.load(), client)
            period = (parse_period(config.period, what=f"client '{client}': run config 'period'") if config.period
                      else latest_period(engine, group.setup.companies, client))
            result = consolidate(engine, group.setup, group.rates(), period)
        except (MissingRate, ConnectorError) as exc:
            raise Failure(f"client '{client}': {exc}") from None
        except (RegistryError, ValueError) as exc:
            raise Failure(str(exc)) from None
        off = result.unbalanced()
        mismatches = Table("Intercompany amounts that do not match",
                           ("Company", "Counterpart", "Kind", "Amount", "Counter amount", "Difference"),
                           [Row((m.company, m.counterpart, m.kind, m.amount, m.counter_amount, m.difference))
                            for m in result.mismatches])
        return MaterializeResult(
            metadata={"report": MetadataValue.md(markdown(render(result))), "period": label(period),
                      "currency": result.currency, "companies": len(result.companies)},
            check_results=[
                AssetCheckResult(check_name="consolidated_sums_to_zero", passed=not off,
                                 severity=AssetCheckSeverity.ERROR, metadata={"sum": amount(off)}),
                AssetCheckResult(check_name="intercompany_matches", passed=not result.mismatches,
                                 severity=AssetCheckSeverity.WARN,
                                 metadata={"mismatches": MetadataValue.md(markdown(mismatches))}),
            ],
        )

    return _consolidated


REPORT_ASSETS: list[AssetsDefinition] = [
    _report_asset("trial-balance", "Per account and month: opening, debit, credit, movement and closing balance, "
                  "in the company's currency.", _CHECKS),
    _report_asset("income-statement", "The month, the year to date, and both a year earlier, by NS 4102 class.", []),
    _report_asset("balance-sheet", "Opening, movement and closing balance of the month, by NS 4102 section.", []),
    _consolidated_asset("consolidated_income_statement", consolidated_income_statement,
                        "A client's companies year to date in its currency, intercompany amounts eliminated in "
                        "their own column."),
    _consolidated_asset("consolidated_balance_sheet", consolidated_balance_sheet,
                        "A client's companies' closing balances in its currency, with the translation difference "
                        "and the eliminations in their own column."),
]
