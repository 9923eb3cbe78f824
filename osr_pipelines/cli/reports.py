"""``osr report``: a company's report as an HTML page and an Excel workbook."""

from __future__ import annotations

from pathlib import Path

import click

from osr_pipelines import settings
from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.cli.common import read_registry, warehouse
from osr_pipelines.reports import files
from osr_pipelines.reports.build import KINDS, build_report
from osr_pipelines.reports.periods import label, parse_period
from osr_pipelines.reports.source import ReportError, company_ledger


@click.command("report")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--company", required=True, help="The company's key, <connection>.<ERP company id>.")
@click.option("--period", help="The month, YYYY-MM (default: the latest month with postings; the current "
                               "month for a direct connection).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default: reports/ in the OSR home).")
def report(kind: str, company: str, period: str | None, out: Path | None) -> None:
    """Write a company's trial balance, income statement or balance sheet as HTML and Excel."""
    try:
        month = parse_period(period) if period else None
        ledger, month, source = company_ledger(read_registry(), warehouse().engine, company, month, today_in_oslo())
        built = build_report(kind, ledger, month)
    except (ReportError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    page, book = files.write(built, out or settings.osr_home() / "reports")
    click.echo(f"{kind} of {company} for {label(month)} (from the {source}):")
    click.echo(f"  HTML  {page}")
    click.echo(f"  Excel {book}")
