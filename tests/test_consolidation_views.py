"""The consolidated reports as tables in the statutory layout: the balance sheet down to accounts, the income
statement with the group's month, last year's month and last year to date; no "-0.00" anywhere. Figures from
``hand_group``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from osr_pipelines.reports.consolidation import consolidated_balance_sheet, consolidated_income_statement
from osr_pipelines.reports.tables import ACCOUNT, HEADING, LINE, TOTAL

from .hand_group import PARENT, SUB
from .test_historical_equity import RATES_CSV, consolidated, write_home

D = Decimal
#: a sale of SEK 2,000 in February 2024 (0.98 NOK on average), before the acquisition
FEBRUARY_2024 = {SUB: [("S6", date(2024, 2, 10), [("1500", "2000"), ("3000", "-2000")])]}


def test_the_income_statement_has_month_ytd_and_last_year(warehouse_url: str, tmp_path: Path) -> None:
    write_home(tmp_path, rates=RATES_CSV + "SEK,2024-02,0.98,0.97\n")
    group = consolidated(warehouse_url, tmp_path, FEBRUARY_2024)
    table = consolidated_income_statement(group)
    assert table.columns == ("Linje", "Navn", PARENT, SUB, "Eliminations", "Consolidated", "2025-02", "2024-02",
                             "YTD 2024-02")
    rows = {(row.cells[0], row.cells[1]): list(row.cells[2:]) for row in table.rows}
    # YTD: 500 (parent) + 15,000 x 0.95 + 10,000 x 0.85; February: 10,000 x 0.85; last year: 2,000 x 0.98
    sales = [D("500.00"), D("22750.00"), D("0.00"), D("23250.00"), D("8500.00"), D("1960.00"), D("1960.00")]
    assert rows[("3000", "Salgsinntekt")] == sales
    # the statutory results, each in every column, as the company's income statement has them
    assert [row.cells[1] for row in table.rows if row.kind == TOTAL] == [
        "Sum driftsinntekter", "Sum driftskostnader", "Driftsresultat", "Resultat før skattekostnad", "Årsresultat"]
    for result in ("Driftsresultat", "Resultat før skattekostnad", "Årsresultat"):
        assert rows[("", result)] == sales


def test_the_balance_sheet_shows_each_lines_accounts(warehouse_url: str, tmp_path: Path) -> None:
    write_home(tmp_path, rates=RATES_CSV + "SEK,2024-02,0.98,0.97\n")
    group = consolidated(warehouse_url, tmp_path, FEBRUARY_2024)
    table = consolidated_balance_sheet(group)
    shown = [(row.kind, row.cells[0], row.cells[1], row.cells[-1]) for row in table.rows if row.kind != HEADING]
    # the statutory layout in the statements' signs: equity positive, the translation difference a debit in it
    assert shown == [
        (TOTAL, "", "Sum anleggsmidler", D("0.00")),
        (LINE, "1500–1799", "Fordringer", D("21600.00")),
        (ACCOUNT, "1500", "Kundefordringer", D("21600.00")),  # 27,000 SEK x 0.80
        (LINE, "1900–1999", "Bankinnskudd, kontanter o.l.", D("8500.00")),
        (ACCOUNT, "1920", "Bankinnskudd", D("8500.00")),  # 10,000 SEK x 0.80 + 500 NOK
        (TOTAL, "", "Sum omløpsmidler", D("30100.00")),
        (TOTAL, "", "Sum eiendeler", D("30100.00")),
        (LINE, "2000–2039", "Innskutt egenkapital", D("10000.00")),
        (ACCOUNT, "2000", "Aksjekapital", D("10000.00")),  # at the acquisition rate
        (LINE, "2040–2099", "Opptjent egenkapital", D("2000.00")),
        (ACCOUNT, "2050", "Annen egenkapital", D("2000.00")),  # 2024's result, before the acquisition: its rate
        (LINE, "", "Omregningsdifferanse", D("-5150.00")),
        (LINE, "", "Årets resultat", D("23250.00")),
        (TOTAL, "", "Sum egenkapital", D("30100.00")),
        (TOTAL, "", "Sum langsiktig gjeld", D("0.00")),
        (TOTAL, "", "Sum kortsiktig gjeld", D("0.00")),
        (TOTAL, "", "Sum egenkapital og gjeld", D("30100.00")),
    ]
    numbers = [v for t in (table, consolidated_income_statement(group)) for row in t.rows for v in row.cells
               if isinstance(v, Decimal)]
    assert numbers and not [v for v in numbers if v.is_zero() and v.is_signed()]
