"""Each report as plain tables: what Markdown, HTML, Excel, CSV and JSON all render, so they always agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from osr_pipelines.reports.accounts import Heading, Layout, Total, account_line
from osr_pipelines.reports.language import text, words
from osr_pipelines.reports.numbers import amount as _amount
from osr_pipelines.reports.periods import label, shift
from osr_pipelines.reports.statements import BalanceSheet, IncomeStatement
from osr_pipelines.reports.trial_balance import ZERO, TrialBalance

Cell = str | Decimal

#: what a row is; renderers set them apart and Excel outlines the account detail under its line
HEADING, LINE, ACCOUNT, TOTAL = "heading", "line", "account", "total"


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    #: a total or a line heading, which every format sets apart from account detail
    strong: bool = False
    #: ``heading``, ``line``, ``account`` (detail under the line above it), ``total``; empty: a plain row
    kind: str = ""
    #: (row index, factor) of the rows this row adds up: Excel writes it as a formula over them
    parts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[Row]


def amount(value: Decimal, lang: str = "nb") -> str:
    return _amount(value, lang)


def _sum_row(label_: str, rows: list[Row], parts: Sequence[tuple[int, int]], first_value: int, width: int,
             kind: str = TOTAL, lead: str = "") -> Row:
    sums = [sum((factor * rows[i].cells[first_value + c] for i, factor in parts), ZERO) + ZERO  # type: ignore[misc]
            for c in range(width)]
    return Row((lead, label_, *sums), strong=True, kind=kind, parts=tuple(parts))


def trial_balance_table(tb: TrialBalance, period: int, lang: str = "nb") -> Table:
    rows = [Row((r.account, tb.name(r.account), r.opening, r.debit, r.credit, r.movement, r.closing), kind=ACCOUNT)
            for r in tb.of(period)]
    rows.append(_sum_row(text("Sum", lang), rows, [(i, 1) for i in range(len(rows))], 2, 5))
    return Table(f"{text('trial-balance', lang)} {label(period)} ({tb.currency})",
                 tuple(text(c, lang) for c in ("Account", "Name", "Opening", "Debit", "Credit", "Movement",
                                                "Closing")), rows)


def statutory_table(title: str, columns: Sequence[str], layout: Layout, values: dict[str, list[Decimal]],
                    names: dict[str, str], balance: dict[str, bool], lang: str = "nb", ledger_signs: bool = False,
                    year_result: list[Decimal] | None = None, given: dict[str, list[Decimal]] | None = None
                    ) -> Statement:
    """The statement of ``layout``: per line its accounts (detail rows), per section its sum, and the totals.

    ``values`` are the ledger's amounts (debit positive) per account and column; the statement turns them
    to its own signs unless ``ledger_signs``. ``year_result`` is what the balance sheet's Årets resultat
    line holds (the result accounts, ledger sign); ``given`` the figures of the layout's given lines by
    their key (ledger sign), which are left out where not given. Accounts no line covers are listed in a
    section of their own, counted in no total.
    """
    given = given or {}
    width = len(columns)
    placed: dict[str, dict[str, list[str]]] = {}
    unplaced = []
    for account in sorted(values):
        found = account_line(account, balance[account], layout)
        if found is None:
            unplaced.append(account)
        else:
            placed.setdefault(found[0].key, {}).setdefault(found[1].key, []).append(account)
    rows: list[Row] = []
    section_rows: dict[str, int] = {}
    signs: dict[str, int] = {}
    ledger: dict[str, list[Decimal]] = {}

    def add_line(line_key: str, code: str, accounts: list[str], sign: int,
                 fixed: list[Decimal] | None = None) -> int:
        at = len(rows)
        rows.append(Row(()))  # the line, filled in below
        details = []
        for account in accounts:
            details.append((len(rows), 1))
            rows.append(Row((account, names.get(account, ""), *(sign * v + ZERO for v in values[account])),
                            kind=ACCOUNT))
        if fixed is not None:
            rows[at] = Row((code, text(line_key, lang), *(sign * v + ZERO for v in fixed)), strong=True, kind=LINE)
        else:
            rows[at] = _sum_row(text(line_key, lang), rows, details, 2, width, LINE, code)
        return at

    for item in layout:
        if isinstance(item, Heading):
            rows.append(Row(("", text(item.key, lang), *([""] * width)), strong=True, kind=HEADING))
            continue
        sign = 1 if ledger_signs else item.sign
        if isinstance(item, Total):
            shown = [s for s in item.sections if s in section_rows]
            parts = [(section_rows[s], sign * signs[s]) for s in shown]
            rows.append(_sum_row(text(item.key, lang), rows, parts, 2, width))
            ledger[item.key] = [sum((ledger[s][c] for s in shown), ZERO) for c in range(width)]
            continue
        if not placed.get(item.key) and not any(line.result for line in item.lines) and not item.always:
            continue  # a section without accounts is left out, as the statements leave out empty lines
        lines = []
        rows.append(Row(("", text(item.key, lang), *([""] * width)), strong=True, kind=HEADING))
        fixed = []  # the figures of lines no account is on
        for line in item.lines:
            accounts = placed.get(item.key, {}).get(line.key, [])
            if line.result or (line.given and line.key in given):
                fixed.append((year_result or [ZERO] * width) if line.result else given[line.key])
                lines.append(add_line(line.key, "", [], sign, fixed[-1]))
            elif accounts:
                lines.append(add_line(line.key, f"{line.first}–{line.last}", accounts, sign))
        section_rows[item.key], signs[item.key] = len(rows), sign
        accounts = [a for line_accounts in placed.get(item.key, {}).values() for a in line_accounts]
        ledger[item.key] = [sum((values[a][c] for a in accounts), sum((f[c] for f in fixed), ZERO))
                            for c in range(width)]
        rows.append(_sum_row(text(f"sum {item.key}", lang), rows, [(i, 1) for i in lines], 2, width))
    if unplaced:
        rows.append(Row(("", text("uten linje", lang), *([""] * width)), strong=True, kind=HEADING))
        line = add_line("uten linje", "", unplaced, 1)
        rows.append(_sum_row(text("sum uten linje", lang), rows, [(line, 1)], 2, width))
    return Statement(Table(title, (text("Line", lang), text("Name", lang), *columns), rows), unplaced, ledger)


@dataclass(frozen=True)
class Statement:
    table: Table
    #: accounts no line of the layout covers
    unplaced: list[str]
    #: per section and total, its sum in the ledger's sign, whatever signs the table shows
    ledger_totals: dict[str, list[Decimal]]


def income_statement_table(report: IncomeStatement, lang: str = "nb") -> Table:
    """An income statement by another grouping than the statutory one (SAF-T codes): lines, accounts, result."""
    last = label(shift(report.period, -12))
    columns = (label(report.period), text("ytd", lang, period=label(report.period)), last,
               text("ytd", lang, period=last))
    rows: list[Row] = []
    lines = []
    for line in report.lines:
        lines.append((len(rows), 1))
        rows.append(Row((line.line.code, line.line.name, *line.values), strong=True, kind=LINE))
        rows.extend(Row((account, name, *values), kind=ACCOUNT) for account, name, values in line.accounts)
    rows.append(_sum_row(text("Resultat", lang), rows, lines, 2, 4))
    return Table(f"{text('income-statement', lang)} {label(report.period)} ({report.currency})",
                 (text("Line", lang), text("Name", lang), *columns), rows)


def balance_sheet_table(sheet: BalanceSheet, period: int, lang: str = "nb") -> Table:
    """A balance sheet by another grouping than the statutory one: closing against last year's 31 December."""
    rows: list[Row] = []
    lines = []
    for line in sheet.by_period[period]:
        lines.append((len(rows), 1))
        rows.append(Row((line.line.code, line.line.name, *line.values), strong=True, kind=LINE))
        rows.extend(Row((account, name, *values), kind=ACCOUNT) for account, name, values in line.accounts)
    rows.append(_sum_row(text("Sum", lang), rows, lines, 2, 2))
    return Table(f"{text('balance-sheet', lang)} {label(period)} ({sheet.currency})",
                 (text("Line", lang), text("Name", lang), *balance_columns(period, lang)), rows)


def balance_columns(period: int, lang: str = "nb") -> tuple[str, str]:
    """A balance sheet's two columns: the period's closing balance, and last year's 31 December."""
    return (text("closing at", lang, period=label(period)),
            text("closing at", lang, period=f"31.12.{period // 100 - 1}"))


def structured(table: Table) -> Table:
    """A table built elsewhere (a consolidation's) with what its rows are worked out, where they do not say.

    A strong row followed by plain rows is a line with its account detail; a
    strong row followed by none is a total. A line, or the table's last total,
    adds up the rows above it by formula in Excel only where their figures
    really add up to its own, so no formula ever changes a figure.
    """
    rows = table.rows
    if not rows or all(r.kind for r in rows):
        return table
    kinds: list[str] = []
    for i, row in enumerate(rows):
        if row.kind:
            kinds.append(row.kind)
        elif row.strong:
            following = rows[i + 1] if i + 1 < len(rows) else None
            kinds.append(LINE if following is not None and not following.strong and not following.kind else TOTAL)
        else:
            kinds.append(ACCOUNT if kinds and kinds[-1] in (LINE, ACCOUNT) else "")
    out = []
    for i, (row, kind) in enumerate(zip(rows, kinds, strict=True)):
        parts = row.parts
        if not parts and kind == LINE:
            details = []
            for j in range(i + 1, len(rows)):
                if kinds[j] != ACCOUNT:
                    break
                details.append(j)
            parts = _if_they_add_up(rows, row, details)
        elif not parts and kind == TOTAL and i == len(rows) - 1:
            parts = _if_they_add_up(rows, row, [j for j in range(i) if kinds[j] not in (ACCOUNT, HEADING)])
        out.append(Row(row.cells, row.strong, kind, parts))
    return Table(table.title, table.columns, out)


def _if_they_add_up(rows: list[Row], total: Row, parts: list[int]) -> tuple[tuple[int, int], ...]:
    numbers = [c for c, value in enumerate(total.cells) if isinstance(value, Decimal)]
    if not parts or not numbers:
        return ()
    for c in numbers:
        cells = [rows[j].cells[c] if c < len(rows[j].cells) else None for j in parts]
        if not all(isinstance(v, Decimal) for v in cells) or sum(cells, ZERO) != total.cells[c]:  # type: ignore[arg-type]
            return ()
    return tuple((j, 1) for j in parts)


def markdown(table: Table, lang: str = "nb", names: dict[str, str] | None = None) -> str:
    """The table in Markdown, as the Dagster UI shows it in a materialization's metadata; ``names`` shows
    companies by name rather than key."""
    names = names or {}

    def cell(value: Cell, strong: bool) -> str:
        shown = amount(value, lang) if isinstance(value, Decimal) else names.get(value, value).replace("|", "\\|")
        return f"**{shown}**" if strong and shown else shown

    numeric = [any(isinstance(r.cells[i], Decimal) for r in table.rows) for i in range(len(table.columns))]
    lines = [f"### {table.title}", "",
             "| " + " | ".join(names.get(c) or words(c, lang) for c in table.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines.extend("| " + " | ".join(cell(c, row.strong) for c in row.cells) + " |" for row in table.rows)
    if not table.rows:
        lines.append("| " + text("none", lang) + " |" + " |" * (len(table.columns) - 1))
    return "\n".join(lines)
