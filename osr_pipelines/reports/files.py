"""A report as files for people: an HTML page with its chart, and an Excel workbook.

Finance users live in Excel, so the workbook holds numbers as numbers (not
text) with a thousands format; the HTML page is for reading and printing.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from osr_pipelines.reports.build import Report
from osr_pipelines.reports.chart import MONTHS, monthly_result_svg
from osr_pipelines.reports.periods import label
from osr_pipelines.reports.tables import Table, amount

TITLES = {"trial-balance": "Trial balance", "income-statement": "Income statement", "balance-sheet": "Balance sheet"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; }
td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; }
tr.strong td { font-weight: 600; border-top: 1px solid #999; }
"""


def _html_table(table: Table) -> str:
    numeric = [isinstance(c, Decimal) for c in table.rows[0].cells] if table.rows else [False] * len(table.columns)
    head = "".join(f'<th class="{"amount" if n else "text"}">{escape(c)}</th>'
                   for c, n in zip(table.columns, numeric, strict=True))
    body = []
    for row in table.rows:
        cells = "".join(f'<td class="amount">{amount(c)}</td>' if isinstance(c, Decimal) else f"<td>{escape(c)}</td>"
                        for c in row.cells)
        body.append(f'<tr class="{"strong" if row.strong else "detail"}">{cells}</tr>')
    return (f'<h2>{escape(table.title)}</h2><table class="report"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def html(report: Report) -> str:
    title = f"{TITLES[report.kind]} {label(report.period)}: {report.company}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<p>Amounts in {escape(report.currency)}.</p>"
            + "".join(_html_table(t) for t in report.tables)
            + f"<h2>Monthly result</h2>{monthly_result_svg(report.monthly_result, report.currency)}"
            + "</body></html>")


def xlsx(report: Report, path: Path) -> None:
    book = Workbook()
    sheets = [book.active]
    sheets.extend(book.create_sheet() for _ in report.tables[1:])
    bold = Font(bold=True)
    for sheet, table in zip(sheets, report.tables, strict=True):
        sheet.title = TITLES[report.kind]
        sheet.append([table.title])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append(list(table.columns))
        for cell in sheet[2]:
            cell.font = bold
        for row in table.rows:
            sheet.append(list(row.cells))
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, Decimal | int | float):
                    cell.number_format = "#,##0.00"
                if row.strong:
                    cell.font = bold
        sheet.column_dimensions["B"].width = 36
    chart = book.create_sheet("Monthly result")
    years = sorted(report.monthly_result)
    chart.append(["Month", *(str(y) for y in years)])
    for month, name in enumerate(MONTHS):
        chart.append([name, *(report.monthly_result[y][month] for y in years)])
    book.save(path)


def write(report: Report, folder: Path) -> tuple[Path, Path]:
    """Write ``<company>-<kind>-<YYYY-MM>.html`` and ``.xlsx`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{report.company}-{report.kind}-{label(report.period)}"  # company keys hold a dot: no with_suffix
    page, book = folder / f"{stem}.html", folder / f"{stem}.xlsx"
    page.write_text(html(report), encoding="utf-8")
    xlsx(report, book)
    return page, book
