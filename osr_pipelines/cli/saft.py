"""``osr saf-t validate`` and ``osr export saf-t``: SAF-T Financial files checked, and written from the warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from osr_pipelines.cli.common import fail, warehouse


@click.group("saf-t")
def saft() -> None:
    """SAF-T Financial files: check one against the Tax Administration's XSD of its version."""


@saft.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(file: Path) -> None:
    """Check FILE (.xml, or .zip holding one) against the XSD of its SAF-T version; each problem with its line.

    The version is the file's own ``Header/AuditFileVersion`` (1.10 or 1.30).
    Each problem names its line and its place in the file
    (``/AuditFile/GeneralLedgerEntries/Journal/Transaction[3]/Period``). The
    file is read streaming, so a file of gigabytes is checked in the memory of
    a small one. Exits with status 1 when there is any problem.
    """
    from osr_pipelines.connectors.saft.reader import SaftFileError, read_header
    from osr_pipelines.saft_export.validate import problems

    found = problems(file)
    if found:
        for problem in found:
            click.echo(f"{file.name}: {problem}")
        fail(f"{file.name}: {len(found)} problem{'s' if len(found) > 1 else ''}")
    try:
        version = read_header(file).schema
    except SaftFileError as exc:  # valid against the schema yet unreadable as SAF-T cannot happen; be plain
        fail(str(exc))
    click.echo(f"{file.name}: valid SAF-T Financial {version}")


@click.group("export")
def export() -> None:
    """Write a company's books from the warehouse in a standard format."""


@export.command("saf-t")
@click.option("--company", "key", required=True, help="The company's key (connection.erp_id).")
@click.option("--year", type=click.IntRange(1900, 2999), required=True, help="The calendar year to export.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The file to write (default: SAF-T Financial_<organisation number>_<date>.xml here).")
def export_saft(key: str, year: int, out: Path | None) -> None:
    """Write one company's year as SAF-T Financial 1.30, checked against the XSD before it is written.

    Master files (accounts with grouping codes, customers, suppliers,
    departments and projects as analysis types A and P), the year's journal
    lines, and opening and closing balances as the trial balance has them.
    """
    from osr_pipelines.saft_export.export import ExportRefused, export_company

    wh = warehouse()
    try:
        done = export_company(wh.engine, key, year, out)
    except ExportRefused as exc:
        fail(str(exc))
    finally:
        wh.dispose()
    click.echo(f"wrote {done.path}: {done.accounts} accounts, {done.transactions} transactions, "
               f"{done.lines} lines (SAF-T Financial 1.30, valid)")
