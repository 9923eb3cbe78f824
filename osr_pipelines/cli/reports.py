"""``osr report``: a company's report, or a client's consolidated report, as an HTML page and an Excel workbook."""

from __future__ import annotations

from pathlib import Path

import click

from osr_pipelines import settings
from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.cli.common import read_registry, warehouse
from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.reports import files, saft
from osr_pipelines.reports.build import GROUP_BY, KINDS, NS4102, build_report
from osr_pipelines.reports.consolidation import consolidate, latest_period
from osr_pipelines.reports.groups import client_setup
from osr_pipelines.reports.periods import PeriodError, label, parse_period
from osr_pipelines.reports.rates import MissingRate
from osr_pipelines.reports.source import ReportError, company_ledger


def _period(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``--period`` as ``YYYYMM``: a month that cannot be is a usage error, before anything is read."""
    if value is None:
        return None
    try:
        return parse_period(value)
    except PeriodError as exc:
        raise click.BadParameter(exc.reason, ctx, param) from None


def _write(doc: files.Document, out: Path | None) -> tuple[Path, Path]:
    """The report's files, or one line saying the folder cannot be written (a full traceback says no more)."""
    folder = out or settings.osr_home() / "reports"
    try:
        return files.write(doc, folder)
    except OSError as exc:
        where = f"--out {out}" if out else f"reports folder {folder}"
        reason = (exc.strerror or type(exc).__name__).lower()
        raise click.ClickException(f"{where}: cannot write there ({reason})") from None


@click.command("report")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--company", help="A company's key, <connection>.<ERP company id>.")
@click.option("--client", help="A client's name: its companies consolidated (income-statement, balance-sheet).")
@click.option("--period", callback=_period, help="The month, YYYY-MM (default: the latest month with postings; "
                                                  "the current month for a direct connection).")
@click.option("--group-by", type=click.Choice(GROUP_BY), default=NS4102, show_default=True,
              help="Report lines: NS 4102 classes, SAF-T standard accounts or RF-1167/RF-1175 grouping codes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default: reports/ in the OSR home).")
def report(kind: str, company: str | None, client: str | None, period: int | None, group_by: str,
           out: Path | None) -> None:
    """Write a trial balance, income statement or balance sheet as HTML and Excel."""
    if (company is None) == (client is None):
        raise click.UsageError("name either --company KEY or --client NAME")
    if client is not None and kind == "trial-balance":
        raise click.UsageError("a client has a consolidated income-statement or balance-sheet, not a trial-balance")
    engine = warehouse().engine
    try:
        if company is not None:
            ledger, month, source = company_ledger(read_registry(), engine, company, period, today_in_oslo())
            doc = files.company_document(build_report(kind, ledger, month, group_by))
            what = f"{kind} of {company} for {label(month)} (from the {source})"
        else:
            group = client_setup(read_registry(), client)
            month = period or latest_period(engine, group.setup.companies, client)
            doc = files.client_document(consolidate(engine, group.setup, group.rates(), month), kind,
                                        None if group_by == NS4102 else saft.groupings(group_by))
            what = f"consolidated {kind} of client '{client}' for {label(month)} in {group.setup.currency}"
    except (MissingRate, ConnectorError) as exc:
        raise click.ClickException(f"client '{client}': {exc}" if client else f"company '{company}': {exc}") from None
    except (ReportError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    page, book = _write(doc, out)
    click.echo(f"{what}:")
    click.echo(f"  HTML  {page}")
    click.echo(f"  Excel {book}")
