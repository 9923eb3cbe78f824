"""SAF-T mapping: reports grouped by standard accounts and RF-1167 codes, with overrides and unmapped accounts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from osr_pipelines.reports import ledger, saft
from osr_pipelines.reports.build import build_report

from .conftest import SPECS
from .report_books import COMPANY, insert_books

CODES = SPECS.parent / "data" / "saf-t"
D = Decimal


@pytest.fixture
def codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_SAFT_CODES", str(CODES))
    mapping = tmp_path / "saft-mapping.yaml"
    mapping.write_text(yaml.safe_dump({"companies": {COMPANY: {"RF-1167": {"4000": "4005"}}}}))
    monkeypatch.setenv("OSR_SAFT_MAPPING", str(mapping))
    return mapping


def test_income_statement_by_rf1167_with_an_override_and_the_unmapped_listed(codes: Path, warehouse_url: str) -> None:
    wh = insert_books(warehouse_url)
    report = build_report("income-statement", ledger.from_warehouse(wh.engine, COMPANY, 202201, 202312), 202312,
                          "RF-1167")
    wh.dispose()
    statement = report.tables[0]
    lines = {row.cells[:2]: list(row.cells[2:]) for row in statement.rows if row.strong}
    assert lines == {
        ("3000", "Salgsinntekt og uttak, avgiftspliktig"): [D("0.00"), D("1000.00"), D("400.00"), D("400.00")],
        ("4005", "Varekostnad"): [D("-300.00"), D("-300.00"), D("0.00"), D("0.00")],  # 4000 mapped by the file
        ("", "Resultat"): [D("-300.00"), D("700.00"), D("400.00"), D("400.00")],
    }
    # 2050 has no RF-1167 code of its own: its range gives 2059
    assert saft.mapping(COMPANY, "RF-1167").unmapped(set(report.trial_balance.accounts)) == []


def test_standard_accounts_by_number_then_two_digit_group(codes: Path) -> None:
    mapping = saft.mapping(COMPANY, saft.STANDARD_ACCOUNT)
    assert mapping.code("1920") == "1920" and mapping.name("1920") == "Bankinnskudd"
    assert mapping.code("3001") == "3000"  # no standard account 3001: the one below it in its group
    assert mapping.code("5180") == "5099"  # no standard account in group 51: the one below it in class 5
    assert mapping.unmapped({"1920", "3001", "ABC"}) == ["ABC"]


def test_a_saft_files_own_codes_come_before_the_rules_and_after_the_mapping_file(codes: Path) -> None:
    stated = {"4000": "standard:43 RF-1167:4005", "4300": "standard:5000", "6800": "standard:6800 RF-1167:7700",
              "1920": "kontantgruppe"}  # the last an ERP's own group, which states no code
    standard = saft.mapping(COMPANY, saft.STANDARD_ACCOUNT, stated=stated)
    assert (standard.code("4000"), standard.code("4300"), standard.code("1920")) == ("43", "5000", "1920")
    rf1167 = saft.mapping(COMPANY, "RF-1167", stated=stated)
    assert rf1167.code("4000") == "4005"  # the mapping file's override (equal to the file's code here)
    by_rules = saft.mapping(COMPANY, "RF-1167")
    assert by_rules.code("4300") == "4005" != by_rules.code("5000") == rf1167.code("4300")  # the file's standard
    assert rf1167.code("6800") == "7700"  # the file's grouping code, though its standard account is itself a code
    codes.write_text(yaml.safe_dump({"companies": {COMPANY: {"RF-1167": {"6800": "6995"}}}}))
    assert saft.mapping(COMPANY, "RF-1167", stated=stated).code("6800") == "6995"  # the mapping file's last word


def test_missing_code_lists_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_SAFT_CODES", str(tmp_path))
    with pytest.raises(ValueError, match="point OSR_SAFT_CODES at a folder holding the Skatteetaten/saf-t CSV code "
                                         "lists, or unset it to use the lists shipped with osr"):
        saft.CodeLists.load()


def test_a_consolidated_income_statement_by_standard_account(codes: Path, warehouse_url: str, tmp_path: Path) -> None:
    from osr_pipelines.reports.consolidation import (
        ClientSetup,
        Eliminations,
        consolidate,
        consolidated_income_statement,
    )
    from osr_pipelines.reports.rates import rates_from_csv

    from .group_books import PARENT, RATES_CSV, SUB, insert_group

    (tmp_path / "rates.csv").write_text(RATES_CSV)
    wh = insert_group(warehouse_url)
    setup = ClientSetup("Group", "NOK", (PARENT, SUB), Eliminations(counterparty="free_dimension_1"))
    group = consolidate(wh.engine, setup, rates_from_csv(tmp_path / "rates.csv"), 202401)
    wh.dispose()
    lines = {row.cells[0]: list(row.cells[2:6]) for row in consolidated_income_statement(group, saft.groupings(
        saft.STANDARD_ACCOUNT)).rows if row.strong}
    assert lines["3050"] == [D("950.00"), D("0.00"), D("-950.00"), D("0.00")]  # the intercompany sale, eliminated
    assert lines["3000"] == [D("0.00"), D("2850.00"), D("0.00"), D("2850.00")]
    assert lines["8160"] == [D("-50.00"), D("0.00"), D("0.00"), D("-50.00")]
