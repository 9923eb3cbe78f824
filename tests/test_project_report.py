"""``osr report project``: per project revenue, cost, margin, budget and deviation, checked against figures
worked out by hand from the rows below."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import write_registry
from tests.helpers import osr

KEY = "cw.1"
#: transaction_id, source, document, date, period, project, account, department, customer, supplier, amount
TRANSACTIONS = [
    ("t1", "invoice", "1", "2026-02-10", 202602, "101", "3000", None, "7", None, -1000.00, "a", None),
    ("t2", "invoice", "2", "2026-03-05", 202603, "101", "3000", None, "7", None, -2500.00, "b", None),
    ("t3", "supplier_invoice", "F1", "2026-03-07", 202603, "101", "4000", None, None, "9", 1200.00, "c", None),
    ("t4", "supplier_invoice", "F2", "2026-01-20", 202601, "102", "4500", None, None, "9", 300.00, "d", None),
    ("t5", "invoice", "3", "2026-04-01", 202604, "102", "3000", None, "7", None, -999.00, "after", None),
    ("t6", "invoice", "4", "2026-03-15", 202603, None, "3100", None, "7", None, -50.00, "no project", None),
]
#: line_id, scenario, account, project, department, period, amount (as the ledger signs it: revenue negative)
BUDGETS = [
    ("b1", "Budsjett", "3000", "101", None, 202603, -3000.00),
    ("b2", "Budsjett", "4000", "101", None, 202603, 1000.00),
    ("b3", "Budsjett", "3000", "101", None, 202602, -500.00),
    ("b4", "Budsjett", "4500", "102", None, 202603, 200.00),
    ("b5", "Budsjett", "3000", "102", None, 202605, -9999.00),
    ("b6", "Revidert", "3000", "101", None, 202603, -77777.00),  # a second scenario: the report shows one
]
#: by hand, for 2026-03: (revenue, cost, margin, budget, deviation) for the month, then to date
EXPECTED = [
    ["101", "P-101 Skole", 2500, 1200, 1300, 2000, -700, 3500, 1200, 2300, 2500, -200],
    ["102", "P-102 Hall", 0, 0, 0, -200, 200, 0, 300, -300, -200, -100],
    ["", "(uten prosjekt)", 50, 0, 50, 0, 50, 50, 0, 50, 0, 50],
    ["", "Sum", 2550, 1200, 1350, 1800, -450, 3550, 1500, 2050, 2300, -250],
]


@pytest.fixture
def company(home: Path, warehouse_url: str) -> Path:
    write_registry(home / "registry.yaml", [
        {"name": "cw", "type": "contracting-works", "parent": "Acme", "options": {"tenant": "10355-vismaosr"},
         "credentials": {"subject_id": "CW_SUBJECT", "api_key": "CW_KEY"}}], [("cw", "1")])
    wh = Warehouse(warehouse_url)
    wh.load_dimension(KEY, "projects", [[("101", "P-101", "Skole"), ("102", "P-102", "Hall")]], run_id="r")
    wh.load_company_rows(KEY, "project_transactions", [TRANSACTIONS], run_id="r")
    wh.load_company_rows(KEY, "budgets", [BUDGETS], run_id="r")
    wh.dispose()
    return home


def test_the_project_report_has_the_hand_computed_figures(company: Path) -> None:
    out = company / "out"
    result = osr("report", "project", "--company", KEY, "--period", "2026-03", "--format", "json", "--format",
                 "xlsx", "--format", "html", "--out", str(out))
    assert "project report of Company 1 (cw.1) for 2026-03:" in result.output
    doc = json.loads(next(out.glob("*.json")).read_text())
    [table] = doc["tables"]
    assert table["title"] == "Prosjektrapport 2026-03 (budsjett: Budsjett)"
    assert table["columns"][:4] == ["Prosjekt", "Navn", "Inntekt måned", "Kostnad måned"]
    assert [r["cells"] for r in table["rows"]] == EXPECTED

    sheet = openpyxl.load_workbook(next(out.glob("*.xlsx"))).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    first = next(i for i, row in enumerate(values) if row[1] == "P-101 Skole")
    assert [float(v) for v in values[first][2:]] == EXPECTED[0][2:]
    total = values[first + 3]
    assert total[1] == "Sum" and str(total[2]).startswith("=")  # the total is a formula over the rows
    page = next(out.glob("*.html")).read_text()
    assert "Prosjektrapport Company 1 2026-03" in page and "P-102 Hall" in page


def test_without_a_period_the_latest_month_with_transactions(company: Path) -> None:
    result = osr("report", "project", "--company", KEY, "--lang", "en", "--format", "json", "--out",
                 str(company / "o"))
    assert "for 2026-04" in result.output
    doc = json.loads(next((company / "o").glob("*.json")).read_text())
    assert doc["tables"][0]["rows"][-1]["cells"][:7] == ["", "Total", 999, 0, 999, 0, 999]


def test_a_company_without_project_data_says_so(home: Path, warehouse_url: str) -> None:
    write_registry(home / "registry.yaml", [{"name": "src", "type": "synthetic", "parent": "Acme"}], [("src", "1")])
    Warehouse(warehouse_url).dispose()
    result = osr("report", "project", "--company", "src.1", ok=False)
    assert result.exit_code == 1
    assert ("company 'src.1' has no project transactions in the warehouse; import it first "
            "(osr import full --company src.1) or name a --period") in result.output
    assert "a project report is of one company" in osr("report", "project", "--client", "X", ok=False).output


def _posting(n: int, day: str, account: str, amount: float) -> tuple:
    return (f"p{n}", f"v{n // 2}", day, int(day[:4] + day[5:7]), account, amount, "NOK", None, "x", None, None,
            None, None, None, None, None, None)


def test_the_income_statement_gains_a_budget_column_where_the_company_has_budgets(home: Path,
                                                                                  warehouse_url: str) -> None:
    write_registry(home / "registry.yaml", [{"name": "src", "type": "synthetic", "parent": "Acme"}],
                   [("src", "1001"), ("src", "1002")])
    wh = Warehouse(warehouse_url)
    for key in ("src.1001", "src.1002"):
        wh.load_postings(key, [[_posting(0, "2026-03-10", "3000", -1000.0), _posting(1, "2026-03-10", "1920", 1000.0),
                                _posting(2, "2026-03-12", "4000", 400.0), _posting(3, "2026-03-12", "1920", -400.0)]],
                         window=None, run_id="r")
    # budgets of 2026-03 in the ledger's sign, a second scenario and another month left out
    wh.load_company_rows("src.1001", "budgets", [[
        ("b1", "Budsjett", "3000", None, None, 202603, -1500.0), ("b2", "Budsjett", "4000", None, None, 202603, 300.0),
        ("b3", "Budsjett", "6300", None, None, 202603, 50.0), ("b4", "Budsjett", "3000", None, None, 202602, -9.0),
        ("b5", "Z-revidert", "3000", None, None, 202603, -7.0)]], run_id="r")
    wh.dispose()
    tables = {}
    for key in ("src.1001", "src.1002"):
        out = home / key
        osr("report", "income-statement", "--company", key, "--period", "2026-03", "--format", "json", "--out",
            str(out))
        [tables[key]] = json.loads(next(out.glob("*.json")).read_text())["tables"][:1]
    with_budget, without = tables["src.1001"], tables["src.1002"]
    assert with_budget["columns"][-1] == "Budsjett Budsjett 2026-03"
    assert len(with_budget["columns"]) == len(without["columns"]) + 1  # no budgets: no column
    accounts = {r["cells"][0]: r["cells"] for r in with_budget["rows"] if r["row"] == "account"}
    # statement signs: income positive; the budget column sits after the four columns of actuals
    assert accounts["3000"][2] == 1000 and accounts["3000"][-1] == 1500
    assert accounts["6300"][2:6] == [0, 0, 0, 0]  # budgeted only: its line shows the budget beside zeros
    assert abs(accounts["4000"][-1]) == 300 and abs(accounts["6300"][-1]) == 50
    result = next(r["cells"] for r in with_budget["rows"] if r["row"] == "total" and r["cells"][1] == "Driftsresultat")
    assert result[2] == 600 and result[-1] == 1150  # 1,500 - 300 - 50
