"""``osr report``: a company's report, or a client's consolidated report, as HTML and Excel (or CSV, JSON)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine

from osr_pipelines import settings
from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.cli.common import read_registry, warehouse
from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.registry import Registry
from osr_pipelines.reports import budgets, files, projects, saft
from osr_pipelines.reports import warnings as checks
from osr_pipelines.reports.build import GROUP_BY, KINDS, NS4102, SIGNS, build_report
from osr_pipelines.reports.consolidation import consolidate, latest_period, off_the_lines
from osr_pipelines.reports.groups import client_setup
from osr_pipelines.reports.ledger import warehouse_period_range
from osr_pipelines.reports.numbers import LANGUAGES
from osr_pipelines.reports.periods import PeriodError, label, parse_period
from osr_pipelines.reports.rates import MissingRate
from osr_pipelines.reports.source import ReportError, company_ledger
from osr_pipelines.warehouse.loader import Warehouse


def _period(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``--period`` as ``YYYYMM``: a month that cannot be is a usage error, before anything is read."""
    if value is None:
        return None
    try:
        return parse_period(value)
    except PeriodError as exc:
        raise click.BadParameter(exc.reason, ctx, param) from None


def _write(doc: files.Document, out: Path | None, formats: tuple[str, ...]) -> list[Path]:
    """The report's files, or one line saying the folder cannot be written (a full traceback says no more)."""
    folder = out or settings.osr_home() / "reports"
    try:
        return files.write(doc, folder, formats)
    except OSError as exc:
        where = f"--out {out}" if out else f"reports folder {folder}"
        reason = (exc.strerror or type(exc).__name__).lower()
        raise click.ClickException(f"{where}: cannot write there ({reason})") from None


def company_names(registry: Registry) -> dict[str, str]:
    """Each company's key to the name people know it by (the key itself where the registry has no name)."""
    return {c.key: c.name or c.key for c in registry.companies}


def _company(registry: Registry, wh: Warehouse, kind: str, company: str, period: int | None, group_by: str, lang: str,
             signs: str) -> tuple[files.Document, str]:
    engine = wh.engine
    ledger, month, source = company_ledger(registry, engine, company, period, today_in_oslo())
    name = company_names(registry).get(company, company)
    report = build_report(kind, ledger, month, group_by, lang=lang, signs=signs,
                          budget=budgets.report_budget(engine, company, kind, month, source))
    found = []
    notes = []
    if source == "warehouse":
        if period is not None and (outside := checks.outside_data(name, month, warehouse_period_range(engine, company),
                                                                  lang)):
            found.append(outside)
        vouchers = checks.unbalanced_vouchers(wh, company, month) if report.unbalanced else None
        if period is None:
            notes = [n for n in [checks.partly_booked(month, today_in_oslo(), checks.last_voucher_date(
                engine, company, month), lang)] if n]
    else:
        vouchers = None
        if period is None:
            notes = [n for n in [checks.partly_booked(month, today_in_oslo(), None, lang)] if n]
    found += checks.for_report(report, name, vouchers)
    doc = files.company_document(report, name, found, notes)
    where = "the warehouse" if source == "warehouse" else "the ERP, live"
    return doc, f"{kind} of {name} ({company}) for {label(month)} (from {where})"


def _project(registry: Registry, engine: Engine, company: str, period: int | None,
             lang: str) -> tuple[files.Document, str]:
    """A company's project report (revenue, cost, margin and budget per project), of its latest month by default."""
    if company not in company_names(registry):
        raise ReportError(f"company '{company}' is not in the registry; list companies with `osr company list` "
                          "and use the key shown there")
    name = company_names(registry)[company]
    month = period or projects.latest_period(engine, company)
    return projects.project_document(engine, company, name, month, lang), \
        f"project report of {name} ({company}) for {label(month)}"


@click.command("report")
@click.argument("kind", type=click.Choice((*KINDS, projects.KIND)))
@click.option("--company", help="A company's key, <connection>.<ERP company id>.")
@click.option("--client", help="A client's name: its companies consolidated (income-statement, balance-sheet).")
@click.option("--period", callback=_period, help="The month, YYYY-MM (default: the latest month with postings; "
                                                  "the current month for a direct connection).")
@click.option("--group-by", type=click.Choice(GROUP_BY), default=NS4102, show_default=True,
              help="Report lines: the statutory layout by NS 4102 account, SAF-T standard accounts or "
                   "RF-1167/RF-1175 grouping codes.")
@click.option("--lang", type=click.Choice(LANGUAGES), default="nb", show_default=True,
              help="The report's language: Norwegian (bokmål) or English.")
@click.option("--signs", type=click.Choice(SIGNS), default="statement", show_default=True,
              help="statement: income, equity and liabilities positive, as the statements show them; "
                   "ledger: debit positive, credit negative.")
@click.option("--format", "formats", type=click.Choice(tuple(files.FORMATS)), multiple=True,
              help="What to write; repeat for several (default: html and xlsx).")
@click.option("--allow-warnings", is_flag=True,
              help="Exit 0 even when the report carries warnings (they stay at its top).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write to (default: reports/ in the OSR home).")
def report(kind: str, company: str | None, client: str | None, period: int | None, group_by: str, out: Path | None,
           lang: str = "nb", signs: str = "statement", formats: tuple[str, ...] = (),
           allow_warnings: bool = False) -> None:
    """Write a trial balance, income statement, balance sheet or project report as HTML and Excel."""
    if (company is None) == (client is None):
        raise click.UsageError("name either --company KEY or --client NAME")
    if client is not None and kind == "trial-balance":
        raise click.UsageError("a client has a consolidated income-statement or balance-sheet, not a trial-balance")
    if client is not None and kind == projects.KIND:
        raise click.UsageError("a project report is of one company: name --company KEY")
    wh = warehouse()
    engine = wh.engine
    registry = read_registry()
    try:
        if kind == projects.KIND:
            doc, what = _project(registry, engine, company, period, lang)
        elif company is not None:
            doc, what = _company(registry, wh, kind, company, period, group_by, lang, signs)
        else:
            group = client_setup(registry, client)
            month = period or latest_period(engine, group.setup.companies, client)
            names = company_names(registry)
            result = consolidate(engine, group.setup, group.rates(), month)
            found = checks.for_consolidation(result, names, lang)
            if period is not None:  # a month none of the companies has postings around
                covered = [r for c in group.setup.companies if (r := warehouse_period_range(engine, c))]
                span = (min(r[0] for r in covered), max(r[1] for r in covered)) if covered else None
                if outside := checks.outside_data(client, month, span, lang):
                    found.insert(0, outside)
            lines = None if group_by == NS4102 else saft.groupings(group_by, stated=result.groups)
            if lines is None:
                found += checks.off_the_consolidated_lines(result, off_the_lines(result, kind), names, lang)
            doc = files.client_document(result, kind, lines, lang=lang, names=names, warnings=found, signs=signs)
            what = f"consolidated {kind} of client '{client}' for {label(month)} in {group.setup.currency}"
    except (MissingRate, ConnectorError) as exc:
        raise click.ClickException(f"client '{client}': {exc}" if client else f"company '{company}': {exc}") from None
    except (ReportError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    paths = _write(doc, out, formats or ("html", "xlsx"))
    click.echo(f"{what}:")
    for fmt, path in zip(formats or ("html", "xlsx"), paths, strict=True):
        click.echo(f"  {files.FORMATS[fmt]:5} {path}")
    for note in doc.notes:
        click.echo(f"note: {note}")
    if doc.warnings:
        listed = "\n".join(f"  - {w}" for w in doc.warnings)
        if not allow_warnings:
            raise click.ClickException(f"the report carries {len(doc.warnings)} warning(s), shown at its top:\n"
                                       f"{listed}\nCorrect the figures, or pass --allow-warnings to accept them.")
        click.echo(f"warnings (allowed):\n{listed}")
