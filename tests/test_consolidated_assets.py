"""The consolidated assets, partitioned by client, materialized through Dagster over the group books."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import instance_for_test, materialize

from osr_pipelines.assets.reports import client_reports
from osr_pipelines.partitions import client_partitions
from osr_pipelines.resources import RegistryResource, WarehouseResource

from .conftest import synthetic_connection
from .group_books import RATES_CSV, insert_group

sqlite_only = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture
def group_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    registry = {
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": "Group"}]}]}],
        "connections": [synthetic_connection("g")],
        "companies": [{"connection": "g", "erp_id": erp, "name": erp, "client": "Group"} for erp in ("parent", "sub")],
    }
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    (tmp_path / "rates.csv").write_text(RATES_CSV)
    (tmp_path / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {"Group": {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"counterparty": "free_dimension_1"}}}}))
    monkeypatch.setenv("OSR_CONSOLIDATION", str(tmp_path / "consolidation.yaml"))
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    return tmp_path


def run(home: Path, url: str, period: str | None = None, **more: str):
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(client_partitions.name, ["Group"])
        given = {**({"period": period} if period else {}), **more}
        config = {"ops": {"client_reports": {"config": given}}} if given else None
        return materialize([client_reports], instance=instance, partition_key="Group", run_config=config,
                           resources={"registry": RegistryResource(path=str(home / "registry.yaml")),
                                      "warehouse": WarehouseResource(url=url)}, raise_on_error=False)


def report(result, name: str) -> str:
    (materialization,) = [m for m in result.asset_materializations_for_node("client_reports")
                          if m.asset_key.to_user_string() == name]
    return materialization.metadata["report"].value


def checks(result) -> dict[tuple[str, str], bool]:
    return {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}


@sqlite_only
def test_consolidated_assets_eliminate_and_translate(group_home: Path, warehouse_url: str) -> None:
    insert_group(warehouse_url).dispose()
    result = run(group_home, warehouse_url)  # the latest month with postings: 2024-01
    assert result.success
    income = report(result, "consolidated_income_statement")
    assert "| Linje | Navn | parent | sub | Elimineringer | Konsern |" in income  # names, not keys
    # the statutory layout in the statements' signs: revenue and liabilities positive
    assert "| **3000–3599** | **Salgsinntekt** | **950,00** | **2\u00a0850,00** | **-950,00** | **2\u00a0850,00** |" \
        in income
    assert "|  | **Årsresultat** | **700,00** | **1\u00a0900,00** | **0,00** | **2\u00a0600,00** |" in income
    sheet = report(result, "consolidated_balance_sheet")
    assert "|  | **Omregningsdifferanse** | **0,00** | **-100,00** | **0,00** | **-100,00** |" in sheet
    assert "| 1560 |  | 900,00 | 0,00 | -900,00 | 0,00 |" in sheet  # the accounts under their line
    assert "| 2460 |  | 0,00 | 900,00 | -900,00 | 0,00 |" in sheet
    assert "|  | **Sum eiendeler** | **700,00** | **2\u00a0700,00** | **-900,00** | **2\u00a0500,00** |" in sheet
    assert "|  | **Sum egenkapital og gjeld** | **700,00** | **2\u00a0700,00** | **-900,00** | **2\u00a0500,00** |" \
        in sheet
    assert all(checks(result).values()) and len(checks(result)) == 6
    (materialization,) = [m for m in result.asset_materializations_for_node("client_reports")
                          if m.asset_key.to_user_string() == "consolidated_balance_sheet"]
    page = materialization.metadata["html"].value
    assert page == str(group_home / "reports" / "Group-consolidated-balance-sheet-2024-01.html")
    assert '<svg id="consolidated-result"' in Path(page).read_text()
    assert 'data-value="2500.00"' in Path(page).read_text() and 'data-value="-2500.00"' not in Path(page).read_text()


@sqlite_only
def test_run_config_signs_ledger_shows_debits_positive(group_home: Path, warehouse_url: str) -> None:
    insert_group(warehouse_url).dispose()
    result = run(group_home, warehouse_url, "2024-01", signs="ledger")
    assert result.success
    income = report(result, "consolidated_income_statement")
    assert "| 3000 |  | 0,00 | -2\u00a0850,00 | 0,00 | -2\u00a0850,00 |" in income
    assert "|  | **Årsresultat** | **-700,00** | **-1\u00a0900,00** | **0,00** | **-2\u00a0600,00** |" in income
    sheet = report(result, "consolidated_balance_sheet")
    assert "| 2460 |  | 0,00 | -900,00 | 900,00 | 0,00 |" in sheet
    assert "|  | **Sum egenkapital og gjeld** | **-700,00** | **-2\u00a0700,00** | **900,00** | **-2\u00a0500,00** |" \
        in sheet
    html = Path(next(m for m in result.asset_materializations_for_node("client_reports")
                     if m.asset_key.to_user_string() == "consolidated_balance_sheet").metadata["html"].value)
    assert 'data-value="-2500.00"' in html.read_text()  # the file in the same signs: equity and liabilities
    failed = run(group_home, warehouse_url, "2024-01", signs="credit")
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unknown signs 'credit' (known: statement, ledger)" in str(failure.event_specific_data)


@sqlite_only
def test_unmatched_intercompany_amounts_fail_the_checks_with_amounts(group_home: Path, warehouse_url: str) -> None:
    insert_group(warehouse_url, without=("P3",)).dispose()
    result = run(group_home, warehouse_url, "2024-01")
    found = checks(result)
    assert not found[("consolidated_balance_sheet", "intercompany_matches")]
    assert not found[("consolidated_balance_sheet", "consolidated_sums_to_zero")]
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.check_name == "intercompany_matches" and e.asset_key.to_user_string().endswith("sheet"))
    assert "| parent | sub | balance | 950,00 | -900,00 | 50,00 |" in evaluation.metadata["mismatches"].value


@sqlite_only
def test_a_missing_rate_fails_naming_client_currency_and_month(group_home: Path, warehouse_url: str) -> None:
    insert_group(warehouse_url).dispose()
    result = run(group_home, warehouse_url, "2024-02")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "client 'Group': no closing rate for SEK in 2024-02" in str(failure.event_specific_data)


@sqlite_only
def test_an_account_no_statutory_line_covers_fails_accounts_on_lines_naming_it(group_home: Path,
                                                                              warehouse_url: str) -> None:
    """Class 9 (internal accounts) has no line in regnskapsloven's statements: its amounts stand apart, in no
    total, so the consolidated income statement warns naming the company and the accounts."""
    insert_group(warehouse_url, internal=True).dispose()
    result = run(group_home, warehouse_url, "2024-01")
    found = checks(result)
    assert not found[("consolidated_income_statement", "accounts_on_lines")]
    assert found[("consolidated_balance_sheet", "accounts_on_lines")]
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "accounts_on_lines"
                      and e.asset_key.to_user_string() == "consolidated_income_statement")
    assert evaluation.metadata["accounts"].value == {"sub": ["9100", "9200"]}
    (materialization,) = [m for m in result.asset_materializations_for_node("client_reports")
                          if m.asset_key.to_user_string() == "consolidated_income_statement"]
    assert "2 konto(er) i sub har ingen linje i oppstillingen" in materialization.metadata["warnings"].value
