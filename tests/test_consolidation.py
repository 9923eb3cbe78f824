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
    return {row.cells[1]: list(row.cells[2:]) for row in table.rows}


@pytest.mark.parametrize("eliminations", [BY_COUNTERPARTY, BY_ACCOUNTS], ids=["counterparty", "accounts"])
def test_consolidated_reports_match_the_hand_calculation(warehouse_url: str, rates, eliminations) -> None:
    wh = insert_group(warehouse_url)
    group = consolidate(wh.engine, setup(eliminations), rates, 202401)
    wh.dispose()
    assert group.parts[SUB].difference == D("100.00")
    income = cells(consolidated_income_statement(group))  # g.parent, g.sub, Eliminations, Consolidated
    assert income == {
        "Salgs- og driftsinntekt": [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00")],
        "Varekostnad": [D("0.00"), D("-950.00"), D("950.00"), D("0.00")],
        "Avskrivning og annen driftskostnad": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00")],
        "Finansposter og skatt": [D("-50.00"), D("0.00"), D("0.00"), D("-50.00")],
        "Resultat": [D("700.00"), D("1900.00"), D("0.00"), D("2600.00")],
    }
    sheet = cells(consolidated_balance_sheet(group))
    assert sheet == {
        "Omløpsmidler": [D("700.00"), D("2700.00"), D("-900.00"), D("2500.00")],
        "Kortsiktig gjeld": [D("0.00"), D("-900.00"), D("900.00"), D("0.00")],
        "Omregningsdifferanse": [D("0.00"), D("100.00"), D("0.00"), D("100.00")],
        "Årets resultat": [D("-700.00"), D("-1900.00"), D("0.00"), D("-2600.00")],
        "Sum": [D("0.00")] * 4,
    }
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
    assert income["Salgs- og driftsinntekt"] == [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00")]
    assert income["Varekostnad"] == [D("0.00"), D("-950.00"), D("950.00"), D("0.00")]
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
