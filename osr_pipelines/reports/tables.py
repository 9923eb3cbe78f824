"""Each report as plain tables: what Markdown, HTML and Excel all render, so they always agree."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from osr_pipelines.reports.periods import label, shift
from osr_pipelines.reports.statements import BALANCE_COLUMNS, BalanceSheet, IncomeStatement
from osr_pipelines.reports.trial_balance import ZERO, TrialBalance

Cell = str | Decimal


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    #: a total or a line heading, which every format sets apart from account detail
    strong: bool = False


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[Row]


def trial_balance_table(tb: TrialBalance, period: int) -> Table:
    rows = [Row((r.account, tb.name(r.account), r.opening, r.debit, r.credit, r.movement, r.closing))
            for r in tb.of(period)]
    sums = [sum((row.cells[i] for row in rows), ZERO) for i in range(2, 7)]  # type: ignore[misc]
    rows.append(Row(("", "Sum", *sums), strong=True))
    return Table(f"Trial balance {label(period)} ({tb.currency})",
                 ("Account", "Name", "Opening", "Debit", "Credit", "Movement", "Closing"), rows)


def income_statement_table(report: IncomeStatement) -> Table:
    last = label(shift(report.period, -12))
    columns = (f"{label(report.period)}", f"YTD {label(report.period)}", last, f"YTD {last}")
    rows = []
    for line in report.lines:
        rows.append(Row((line.line.code, line.line.name, *line.values), strong=True))
        rows.extend(Row((account, name, *values)) for account, name, values in line.accounts)
    rows.append(Row(("", "Resultat", *report.total), strong=True))
    return Table(f"Income statement {label(report.period)} ({report.currency})", ("Line", "Name", *columns), rows)


def balance_sheet_table(sheet: BalanceSheet, period: int) -> Table:
    rows = []
    for line in sheet.by_period[period]:
        rows.append(Row((line.line.code, line.line.name, *line.values), strong=True))
        rows.extend(Row((account, name, *values)) for account, name, values in line.accounts)
    rows.append(Row(("", "Sum", *sheet.total(period)), strong=True))
    return Table(f"Balance sheet {label(period)} ({sheet.currency})",
                 ("Line", "Name", *(c.capitalize() for c in BALANCE_COLUMNS)), rows)


def amount(value: Decimal) -> str:
    """``-1234.5`` as ``-1 234.50``: a space between thousands, as Norwegian readers write them."""
    return f"{value:,.2f}".replace(",", " ")


def markdown(table: Table) -> str:
    """The table in Markdown, as the Dagster UI shows it in a materialization's metadata."""

    def cell(value: Cell, strong: bool) -> str:
        text = amount(value) if isinstance(value, Decimal) else value.replace("|", "\\|")
        return f"**{text}**" if strong and text else text

    numeric = [isinstance(c, Decimal) for c in table.rows[0].cells] if table.rows else []
    lines = [f"### {table.title}", "",
             "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric or [False] * len(table.columns)) + "|"]
    lines.extend("| " + " | ".join(cell(c, row.strong) for c in row.cells) + " |" for row in table.rows)
    return "\n".join(lines)
