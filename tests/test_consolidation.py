"""Consolidation against hand-computed figures (see ``group_books``): translation and all three elimination methods."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from osr_pipelines.reports.consolidation import (
    ClientSetup,
    Eliminations,
    Mismatch,
    consolidate,
    consolidated_balance_sheet,
    consolidated_income_statement,
)
from osr_pipelines.reports.rates import MissingRate, rates_from_csv

from .group_books import ELIM, PARENT, RATES_CSV, SUB, insert_group

D = Decimal
BY_COUNTERPARTY = Eliminations(counterparty="free_dimension_1")
BY_ACCOUNTS = Eliminations(accounts=("1560", "2460", "3050", "4050"))


@pytest.fixture
def rates(tmp_path: Path):
    path = tmp_path / "rates.csv"
    path.write_text(RATES_CSV)
    return rates_from_csv(path)


def setup(eliminations: Eliminations, *companies: str) -> ClientSetup:
    return ClientSetup("Group", "NOK", companies or (PARENT, SUB), eliminations)


def cells(table) -> dict[str, list[Decimal]]:
    """Lines by name; account rows (under their line) by account number."""
    return {row.cells[1] if row.strong else row.cells[0]: list(row.cells[2:]) for row in table.rows}


@pytest.mark.parametrize("eliminations", [BY_COUNTERPARTY, BY_ACCOUNTS], ids=["counterparty", "accounts"])
def test_consolidated_reports_match_the_hand_calculation(warehouse_url: str, rates, eliminations) -> None:
    wh = insert_group(warehouse_url)
    group = consolidate(wh.engine, setup(eliminations), rates, 202401)
    wh.dispose()
    assert group.parts[SUB].difference == D("100.00")
    # g.parent, g.sub, Eliminations, Consolidated (year to date); the group's month, last year's month and YTD
    income = cells(consolidated_income_statement(group))
    none = [D("0.00")] * 2
    assert income == {
        "Salgs- og driftsinntekt": [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00"), D("2850.00"), *none],
        "3000": [D("0.00"), D("2850.00"), D("0.00"), D("2850.00"), D("2850.00"), *none],
        "3050": [D("950.00"), D("0.00"), D("-950.00"), D("0.00"), D("0.00"), *none],
        "Varekostnad": [D("0.00"), D("-950.00"), D("950.00"), D("0.00"), D("0.00"), *none],
        "4050": [D("0.00"), D("-950.00"), D("950.00"), D("0.00"), D("0.00"), *none],
        "Avskrivning og annen driftskostnad": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00"), D("-200.00"),
                                               *none],
        "6300": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00"), D("-200.00"), *none],
        "Finansposter og skatt": [D("-50.00"), D("0.00"), D("0.00"), D("-50.00"), D("-50.00"), *none],
        "8160": [D("-50.00"), D("0.00"), D("0.00"), D("-50.00"), D("-50.00"), *none],
        "Resultat": [D("700.00"), D("1900.00"), D("0.00"), D("2600.00"), D("2600.00"), *none],
    }
    sheet = cells(consolidated_balance_sheet(group))
    assert sheet == {
        "Omløpsmidler": [D("700.00"), D("2700.00"), D("-900.00"), D("2500.00")],
        "1500": [D("0.00"), D("2700.00"), D("0.00"), D("2700.00")],
        "1560": [D("900.00"), D("0.00"), D("-900.00"), D("0.00")],
        "1920": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00")],
        "Kortsiktig gjeld": [D("0.00"), D("-900.00"), D("900.00"), D("0.00")],
        "2460": [D("0.00"), D("-900.00"), D("900.00"), D("0.00")],
        "Omregningsdifferanse": [D("0.00"), D("100.00"), D("0.00"), D("100.00")],
        "Årets resultat": [D("-700.00"), D("-1900.00"), D("0.00"), D("-2600.00")],
        "Sum": [D("0.00")] * 4,
    }
    assert not [v for row in consolidated_balance_sheet(group).rows for v in row.cells
                if isinstance(v, Decimal) and str(v).startswith("-0")]
    assert group.unbalanced() == 0 and group.mismatches == []


def test_unmatched_intercompany_balances_are_listed(warehouse_url: str, rates) -> None:
    wh = insert_group(warehouse_url, without=("P3",))  # the parent never revalued its SEK receivable
    group = consolidate(wh.engine, setup(BY_COUNTERPARTY), rates, 202401)
    wh.dispose()
    assert group.mismatches == [Mismatch(PARENT, SUB, "balance", D("950.00"), D("-900.00"))]
    assert group.mismatches[0].difference == D("50.00")
    assert group.unbalanced() == D("-50.00")


def test_an_elimination_company_is_added_in_the_elimination_column(warehouse_url: str, rates) -> None:
    wh = insert_group(warehouse_url)
    group = consolidate(wh.engine, setup(Eliminations(company=ELIM), PARENT, SUB, ELIM), rates, 202401)
    wh.dispose()
    assert group.companies == [PARENT, SUB]
    income = cells(consolidated_income_statement(group))
    assert income["Salgs- og driftsinntekt"][:4] == [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00")]
    assert income["Varekostnad"][:4] == [D("0.00"), D("-950.00"), D("950.00"), D("0.00")]
    # the elimination company removed the sale, not the receivable and payable: they stay, and do not cancel
    assert group.unbalanced() == 0


def test_a_missing_rate_names_currency_and_month(warehouse_url: str, rates) -> None:
    wh = insert_group(warehouse_url)
    with pytest.raises(MissingRate, match=r"no closing rate for SEK in 2024-02 in .*rates.csv; add the month's rates"):
        consolidate(wh.engine, setup(BY_COUNTERPARTY), rates, 202402)
    wh.dispose()


def test_a_bad_rates_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("currency,period,average,closing\nSEK,2024-01,0.95,abc\n")
    with pytest.raises(ValueError, match=r"rates.csv: line 2, column 'closing': must be a positive number"):
        rates_from_csv(path)
