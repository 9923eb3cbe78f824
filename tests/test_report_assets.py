"""The report assets, materialized through Dagster against warehouses filled by hand and a direct connection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from dagster import DagsterInstance, instance_for_test, materialize
from sqlalchemy import func, insert, select

from osr_pipelines.assets.reports import company_reports
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.partitions import company_partitions
from osr_pipelines.reports.tables import amount
from osr_pipelines.resources import RegistryResource, WarehouseResource
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import budgets, gl_postings

from .conftest import synthetic_connection, write_registry
from .report_books import COMPANY, insert_books

#: for tests whose outcome does not depend on the database: one backend keeps the suite quick
sqlite_only = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def osr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Materializations write their HTML and Excel files under the OSR home."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def instance() -> DagsterInstance:
    with instance_for_test() as instance:
        yield instance


def run(instance: DagsterInstance, registry: Path, url: str, company: str, period: str | None = None,
        selection: list[str] | None = None):
    if not instance.has_dynamic_partition(company_partitions.name, company):
        instance.add_dynamic_partitions(company_partitions.name, [company])
    config = {"ops": {"company_reports": {"config": {"period": period}}}} if period else None
    return materialize([company_reports], instance=instance, partition_key=company, run_config=config,
                       selection=selection,
                       resources={"registry": RegistryResource(path=str(registry)),
                                  "warehouse": WarehouseResource(url=url)}, raise_on_error=False)


def metadata(result, name: str) -> dict:
    (materialization,) = [m for m in result.asset_materializations_for_node("company_reports")
                          if m.asset_key.to_user_string() == name]
    return {key: getattr(value, "value", value) for key, value in materialization.metadata.items()}


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


@pytest.fixture
def imported(tmp_path: Path, warehouse_url: str) -> Path:
    insert_books(warehouse_url).dispose()
    return write_registry(tmp_path / "registry.yaml", [synthetic_connection("books")], [("books", "sek")])


def test_report_assets_render_the_hand_computed_books(instance, imported: Path, warehouse_url: str,
                                                       osr_home: Path) -> None:
    result = run(instance, imported, warehouse_url, COMPANY, "2024-01")
    assert result.success
    tb = metadata(result, "trial_balance")
    assert (tb["period"], tb["currency"], tb["source"]) == ("2024-01", "SEK", "warehouse")
    nok = "\u00a0"  # Norwegian amounts group thousands with a no-break space
    assert f"| 1920 | Bankinnskudd | 1{nok}400,00 | 500,00 | 200,00 | 300,00 | 1{nok}700,00 |" in tb["report"]
    assert f"| 2050 | Annen egenkapital | -1{nok}100,00 | 0,00 | 0,00 | 0,00 | -1{nok}100,00 |" in tb["report"]
    assert "|  | **Sum** | **0,00** | **700,00** | **700,00** | **0,00** | **0,00** |" in tb["report"]
    income = metadata(result, "income_statement")["report"]
    assert "| **3000–3599** | **Salgsinntekt** | **500,00** | **500,00** | **0,00** | **0,00** |" in income
    assert "|  | **Årsresultat** | **300,00** | **300,00** | **0,00** | **0,00** |" in income
    sheet = metadata(result, "balance_sheet")["report"]
    assert "|  | **Årets resultat** | **300,00** | **700,00** |" in sheet  # 2024 so far; 2023 at 31.12.2023
    assert f"|  | **Sum eiendeler** | **1{nok}700,00** | **1{nok}400,00** |" in sheet
    assert f"|  | **Sum egenkapital og gjeld** | **1{nok}700,00** | **1{nok}400,00** |" in sheet
    assert checks(result) == {"sums_to_zero": True, "closing_is_next_opening": True, "period_in_data": True,
                              "accounts_on_lines": True, "sides_agree": True}
    page = Path(metadata(result, "income_statement")["html"])
    assert page == osr_home / "reports" / "books.sek-income-statement-2024-01.html"
    assert '<svg id="monthly-result"' in page.read_text()
    assert Path(metadata(result, "income_statement")["excel"]).exists()


@sqlite_only
def test_without_a_period_the_latest_month_with_postings_is_reported(instance, imported: Path,
                                                                       warehouse_url: str) -> None:
    result = run(instance, imported, warehouse_url, COMPANY, selection=["income_statement"])
    assert result.success and metadata(result, "income_statement")["period"] == "2024-02"
    assert [m.asset_key.to_user_string() for m in result.asset_materializations_for_node("company_reports")] == [
        "income_statement"]  # one report asked for, one made


@sqlite_only
def test_an_unbalanced_ledger_fails_the_check(instance, imported: Path, warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings).values(
            company=COMPANY, posting_id="odd", voucher_number="V9", voucher_date=date(2024, 1, 31), period=202401,
            account="1920", amount=Decimal("10"), currency="SEK", amount_currency=Decimal("10")))
    wh.dispose()
    result = run(instance, imported, warehouse_url, COMPANY, "2024-02")
    assert checks(result) == {"sums_to_zero": False, "closing_is_next_opening": True, "period_in_data": True,
                              "accounts_on_lines": True, "sides_agree": False}
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "sums_to_zero")
    assert evaluation.metadata["vouchers"].value == [["V9", "2024-01-31", "10.00"]]
    assert "bilag V9 (2024-01-31, sum 10,00)" in metadata(result, "trial_balance")["warnings"]


@sqlite_only
def test_a_bad_period_fails_naming_company_and_field(instance, imported: Path, warehouse_url: str) -> None:
    result = run(instance, imported, warehouse_url, COMPANY, "January")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "company 'books.sek': run config 'period': 'January' is not a month" in str(failure.event_specific_data)


def test_a_direct_company_reports_live_and_stores_no_postings(instance, tmp_path: Path, warehouse_url: str) -> None:
    end = date(2024, 3, 31)
    registry = write_registry(tmp_path / "registry.yaml",
                              [synthetic_connection("live", mode="direct", postings=600, companies="2001",
                                                    end=end.isoformat())],
                              [("live", "2001")])
    result = run(instance, registry, warehouse_url, "live.2001", "2024-03")
    assert result.success
    tb = metadata(result, "trial_balance")
    assert (tb["source"], tb["currency"]) == ("direct", "NOK")
    books = SyntheticBooks(company_ids=("2001",), postings=600, years=2, end=end)
    bank = sum(Decimal(str(r[5])) for b in books.postings_in("2001", Window(books.start, date(2024, 4, 1)))
               for r in b if r[4] == "1920")
    bank_line = next(line for line in tb["report"].splitlines() if line.startswith("| 1920 | Bankinnskudd |"))
    assert bank_line.endswith(f"| {amount(bank)} |")  # a balance-sheet account's closing: all its history
    assert checks(result) == {"sums_to_zero": True, "closing_is_next_opening": True, "period_in_data": True,
                              "accounts_on_lines": True, "sides_agree": True}
    wh = Warehouse(warehouse_url)
    with wh.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(gl_postings)).scalar_one() == 0
    wh.dispose()


def test_the_income_statement_asset_shows_the_budget_column_where_the_company_has_budgets(
        instance, tmp_path: Path, warehouse_url: str) -> None:
    insert_books(warehouse_url, "books.nok").dispose()  # the same books, without budgets
    wh = insert_books(warehouse_url)
    # in the ledger's sign; the first scenario by name is shown, another month and scenario are left out
    wh.load_company_rows(COMPANY, "budgets", [[
        ("b1", "A-plan", "3000", "101", None, 202401, -600.0), ("b2", "A-plan", "3000", "102", None, 202401, -200.0),
        ("b3", "A-plan", "6300", None, None, 202401, 250.0), ("b4", "A-plan", "7000", None, None, 202401, 100.0),
        ("b5", "A-plan", "3000", None, None, 202402, -9.0), ("b6", "B-revidert", "3000", None, None, 202401, -77.0)]],
        run_id="r")
    with wh.engine.connect() as conn:
        sums = dict(conn.execute(select(budgets.c.account, func.sum(budgets.c.amount)).where(
            budgets.c.company == COMPANY, budgets.c.scenario == "A-plan", budgets.c.period == 202401)
            .group_by(budgets.c.account)).all())
    wh.dispose()
    registry = write_registry(tmp_path / "registry.yaml", [synthetic_connection("books")],
                              [("books", "sek"), ("books", "nok")])
    heading = "Budsjett A-plan 2024-01"
    # statement signs: income and costs positive on their lines, the result income less costs
    sales, rent, other, result = -sums["3000"], sums["6300"], sums["7000"], -sum(sums.values())
    assert (sales, rent, other, result) == (800, 250, 100, 450)  # by hand, from the rows above

    with_budget = run(instance, registry, warehouse_url, COMPANY, "2024-01")
    assert with_budget.success
    shown = metadata(with_budget, "income_statement")
    income = shown["report"]
    assert f"| {heading} |" in income.splitlines()[2]  # the column after the four of actuals
    assert f"| 3000 | Salgsinntekt | 500,00 | 500,00 | 0,00 | 0,00 | {amount(sales)} |" in income
    assert f"| 6300 | Leie lokale | 200,00 | 200,00 | 0,00 | 0,00 | {amount(rent)} |" in income
    assert f"| 7000 | 7000 | 0,00 | 0,00 | 0,00 | 0,00 | {amount(other)} |" in income  # budgeted only: beside zeros
    assert income.splitlines()[-1] == f"|  | **Årsresultat** | **300,00** | **300,00** | **0,00** | **0,00** | " \
                                      f"**{amount(result)}** |"
    assert heading not in metadata(with_budget, "balance_sheet")["report"]  # the income statement's alone
    assert heading in Path(shown["html"]).read_text()
    sheet = openpyxl.load_workbook(shown["excel"]).worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = next(r for r in rows if heading in r)
    column = header.index(heading)
    assert column == len(header) - 1
    by_account = {r[0]: r for r in rows if r[0] in (3000, 6300, 7000)}
    assert [Decimal(str(by_account[a][column])) for a in (3000, 6300, 7000)] == [sales, rent, other]

    without = run(instance, registry, warehouse_url, "books.nok", "2024-01")
    assert without.success
    plain = metadata(without, "income_statement")
    assert plain["report"].splitlines()[-1] == "|  | **Årsresultat** | **300,00** | **300,00** | **0,00** | **0,00** |"
    assert "Budsjett" not in plain["report"] and "Budsjett" not in Path(plain["html"]).read_text()
    assert not any("Budsjett" in str(c) for r in openpyxl.load_workbook(plain["excel"]).worksheets[0].iter_rows(
        values_only=True) for c in r)
