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
from osr_pipelines.reports.tables import ACCOUNT, HEADING

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
    """Lines and totals by name; account rows (under their line) by account number; headings left out."""
    return {row.cells[0] if row.kind == ACCOUNT else row.cells[1]: list(row.cells[2:]) for row in table.rows
            if row.kind != HEADING}


@pytest.mark.parametrize("eliminations", [BY_COUNTERPARTY, BY_ACCOUNTS], ids=["counterparty", "accounts"])
def test_consolidated_reports_match_the_hand_calculation(warehouse_url: str, rates, eliminations) -> None:
    wh = insert_group(warehouse_url)
    group = consolidate(wh.engine, setup(eliminations), rates, 202401)
    wh.dispose()
    assert group.parts[SUB].difference == D("100.00")
    # g.parent, g.sub, Eliminations, Consolidated (year to date); the group's month, last year's month and YTD.
    # The statutory layout in the statements' signs: income and costs positive, Årsresultat profit positive.
    income = cells(consolidated_income_statement(group))
    none = [D("0.00")] * 2
    sale = [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00"), D("2850.00"), *none]
    result = [D("700.00"), D("1900.00"), D("0.00"), D("2600.00"), D("2600.00"), *none]
    assert income == {
        "Salgsinntekt": sale,
        "3000": [D("0.00"), D("2850.00"), D("0.00"), D("2850.00"), D("2850.00"), *none],
        "3050": [D("950.00"), D("0.00"), D("-950.00"), D("0.00"), D("0.00"), *none],
        "Sum driftsinntekter": sale,
        "Varekostnad": [D("0.00"), D("950.00"), D("-950.00"), D("0.00"), D("0.00"), *none],
        "4050": [D("0.00"), D("950.00"), D("-950.00"), D("0.00"), D("0.00"), *none],
        "Annen driftskostnad": [D("200.00"), D("0.00"), D("0.00"), D("200.00"), D("200.00"), *none],
        "6300": [D("200.00"), D("0.00"), D("0.00"), D("200.00"), D("200.00"), *none],
        "Sum driftskostnader": [D("200.00"), D("950.00"), D("-950.00"), D("200.00"), D("200.00"), *none],
        "Driftsresultat": [D("750.00"), D("1900.00"), D("0.00"), D("2650.00"), D("2650.00"), *none],
        "Finanskostnad": [D("50.00"), D("0.00"), D("0.00"), D("50.00"), D("50.00"), *none],
        "8160": [D("50.00"), D("0.00"), D("0.00"), D("50.00"), D("50.00"), *none],
        "Sum finanskostnader": [D("50.00"), D("0.00"), D("0.00"), D("50.00"), D("50.00"), *none],
        "Resultat før skattekostnad": result,
        "Årsresultat": result,
    }
    sheet = cells(consolidated_balance_sheet(group))
    zero = [D("0.00")] * 4
    assets = [D("700.00"), D("2700.00"), D("-900.00"), D("2500.00")]
    assert sheet == {
        "Sum anleggsmidler": zero,
        "Fordringer": [D("900.00"), D("2700.00"), D("-900.00"), D("2700.00")],
        "1500": [D("0.00"), D("2700.00"), D("0.00"), D("2700.00")],
        "1560": [D("900.00"), D("0.00"), D("-900.00"), D("0.00")],
        "Bankinnskudd, kontanter o.l.": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00")],
        "1920": [D("-200.00"), D("0.00"), D("0.00"), D("-200.00")],
        "Sum omløpsmidler": assets,
        "Sum eiendeler": assets,
        "Omregningsdifferanse": [D("0.00"), D("-100.00"), D("0.00"), D("-100.00")],  # a debit: equity lower
        "Årets resultat": [D("700.00"), D("1900.00"), D("0.00"), D("2600.00")],
        "Sum egenkapital": [D("700.00"), D("1800.00"), D("0.00"), D("2500.00")],
        "Sum langsiktig gjeld": zero,
        "Leverandørgjeld": [D("0.00"), D("900.00"), D("-900.00"), D("0.00")],
        "2460": [D("0.00"), D("900.00"), D("-900.00"), D("0.00")],
        "Sum kortsiktig gjeld": [D("0.00"), D("900.00"), D("-900.00"), D("0.00")],
        "Sum egenkapital og gjeld": assets,
    }
    # the year's result is the same figure in both statements, per company, eliminations and group
    assert income["Årsresultat"][:4] == sheet["Årets resultat"]
    assert not [v for table in (consolidated_balance_sheet(group), consolidated_income_statement(group))
                for row in table.rows for v in row.cells if isinstance(v, Decimal) and v.is_zero() and v.is_signed()]
    assert group.unbalanced() == 0 and group.mismatches == []

    # --signs ledger: debit positive, so the payable and the sale are negative and the two sides cancel out
    income = cells(consolidated_income_statement(group, signs="ledger"))
    sheet = cells(consolidated_balance_sheet(group, signs="ledger"))
    assert income["Salgsinntekt"] == [-v for v in sale]
    assert income["Årsresultat"] == [-v for v in result]
    assert income["Varekostnad"][:4] == [D("0.00"), D("950.00"), D("-950.00"), D("0.00")]  # a debit either way
    assert sheet["Leverandørgjeld"] == [D("0.00"), D("-900.00"), D("900.00"), D("0.00")]
    assert sheet["Sum eiendeler"] == assets
    assert sheet["Sum egenkapital og gjeld"] == [-v for v in assets]
    assert sheet["Årets resultat"] == income["Årsresultat"][:4]
    with pytest.raises(ValueError, match=r"unknown signs 'credit' \(known: statement, ledger\)"):
        consolidated_balance_sheet(group, signs="credit")


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
    assert income["Salgsinntekt"][:4] == [D("950.00"), D("2850.00"), D("-950.00"), D("2850.00")]
    assert income["Varekostnad"][:4] == [D("0.00"), D("950.00"), D("-950.00"), D("0.00")]
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
