"""Warnings that stop bad figures, through ``osr report`` on both warehouses: the hand cases of an unbalanced
voucher and an intercompany mismatch, a month outside the data, a month still being booked; and the same
report as CSV and JSON."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import insert

from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings

from .conftest import synthetic_connection, write_registry
from .helpers import osr
from .report_books import COMPANY, insert_books

sqlite_only = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


@pytest.fixture
def books_home(home: Path, warehouse_url: str) -> Path:
    insert_books(warehouse_url).dispose()
    write_registry(home / "registry.yaml", [synthetic_connection("books")], [("books", "sek")])
    return home


def unbalanced_voucher(url: str) -> None:
    """V9 on 2024-01-15: bank +100, sales -90, so the books are 10 off from January on."""
    wh = Warehouse(url)
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings), [
            {"company": COMPANY, "posting_id": f"V9-{n}", "voucher_number": "V9", "voucher_date": date(2024, 1, 15),
             "period": 202401, "account": account, "amount": Decimal(value), "currency": "SEK",
             "amount_currency": Decimal(value)} for n, (account, value) in enumerate([("1920", "100"),
                                                                                      ("3000", "-90")])])
    wh.dispose()


def test_an_unbalanced_voucher_is_named_and_the_report_exits_non_zero(books_home: Path, warehouse_url: str) -> None:
    unbalanced_voucher(warehouse_url)
    result = osr("report", "balance-sheet", "--company", COMPANY, "--period", "2024-02", ok=False)
    assert result.exit_code == 1, result.output
    assert "Saldobalansen for Company sek summerer ikke til null: 10,00 fra 2024-01." in result.output
    assert "Bilag som ikke går i null: bilag V9 (2024-01-15, sum 10,00)." in result.output
    assert "Balansen for Company sek går ikke opp: Sum eiendeler og Sum egenkapital og gjeld skiller seg med " \
           "Per 2024-02: 10,00." in result.output
    assert "--allow-warnings" in result.output
    page = books_home / "reports" / "books.sek-balance-sheet-2024-02.html"
    text = page.read_text(encoding="utf-8")
    assert text.index('<div class="warnings" role="alert">') < text.index('class="report-table"')  # at the top
    assert "bilag V9 (2024-01-15, sum 10,00)" in text
    book = load_workbook(page.with_suffix(".xlsx"))
    assert book.sheetnames[0] == "Advarsler" and book.active.title == "Advarsler"  # the workbook opens on them
    assert "bilag V9 (2024-01-15, sum 10,00)" in book["Advarsler"]["A2"].value
    allowed = osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01", "--allow-warnings",
                  "--lang", "en")
    assert "warnings (allowed):" in allowed.output
    assert "Vouchers that do not balance: voucher V9 (2024-01-15, total 10.00)." in allowed.output


def test_an_intercompany_mismatch_warns_and_the_report_exits_non_zero(home: Path, warehouse_url: str) -> None:
    from .group_books import RATES_CSV, insert_group

    insert_group(warehouse_url, without=("P3",)).dispose()  # the parent's receivable left unrevalued
    (home / "registry.yaml").write_text(yaml.safe_dump({
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": "Group"}]}]}],
        "connections": [synthetic_connection("g")],
        "companies": [{"connection": "g", "erp_id": e, "name": f"{e.capitalize()} AS", "client": "Group"}
                      for e in ("parent", "sub")]}))
    (home / "rates.csv").write_text(RATES_CSV)
    (home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {"Group": {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"counterparty": "free_dimension_1"}}}}))
    result = osr("report", "balance-sheet", "--client", "Group", "--period", "2024-01", ok=False)
    assert result.exit_code == 1, result.output
    assert "Konserninterne beløp (saldo) mellom Parent AS og Sub AS stemmer ikke: differanse 50,00 NOK." \
        in result.output  # names, not keys
    assert re.search(r"Den konsoliderte saldobalansen for Group summerer til -?50,00 NOK, ikke null", result.output)
    page = next((home / "reports").glob("Group-consolidated-balance-sheet-2024-01.html")).read_text(encoding="utf-8")
    assert "Konserninterne beløp (saldo) mellom Parent AS og Sub AS" in page


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_month_outside_the_data_warns_naming_the_months_covered(books_home: Path) -> None:
    result = osr("report", "income-statement", "--company", COMPANY, "--period", "1999-05", ok=False)
    assert result.exit_code == 1
    assert ("Company sek har ingen posteringer i 1999-05: dataene dekker 2022-12 til 2024-02. Velg en måned i det "
            "tidsrommet.") in result.output


@sqlite_only
def test_the_default_month_still_being_booked_is_noted(books_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("osr_pipelines.cli.reports.today_in_oslo", lambda: date(2024, 2, 14))
    result = osr("report", "income-statement", "--company", COMPANY)  # a note, no warning: exit 0
    note = ("2024-02 er inneværende måned og bare delvis bokført (bilag til og med 2024-02-10); den sammenlignes "
            "med hele 2023-02.")
    assert note in result.output
    page = books_home / "reports" / "books.sek-income-statement-2024-02.html"
    assert f'<p class="note">{note}' in page.read_text(encoding="utf-8")


@sqlite_only
def test_csv_and_json_hold_the_same_lines_and_columns(books_home: Path, tmp_path: Path) -> None:
    output = osr("report", "income-statement", "--company", COMPANY, "--period", "2023-12", "--format", "csv",
                 "--format", "json", "--lang", "en", "--out", str(tmp_path)).output
    assert re.findall(r"^  (\w+) +(\S+)$", output, re.M) == [
        ("CSV", str(tmp_path / "books.sek-income-statement-2023-12.csv")),
        ("JSON", str(tmp_path / "books.sek-income-statement-2023-12.json"))]
    with (tmp_path / "books.sek-income-statement-2023-12.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "Line", "Name", "2023-12", "Year to date 2023-12", "2022-12", "Year to date 2022-12"]
    assert ["line", "3000–3599", "Sales revenue", "0.00", "1000.00", "400.00", "400.00"] in rows
    assert ["account", "4000", "Varekjøp", "300.00", "300.00", "0.00", "0.00"] in rows  # the ERP's account name
    assert rows[-1] == ["total", "", "Result for the year", "-300.00", "700.00", "400.00", "400.00"]
    data = json.loads((tmp_path / "books.sek-income-statement-2023-12.json").read_text(encoding="utf-8"))
    assert (data["kind"], data["company"], data["names"], data["period"]) == (
        "income-statement", COMPANY, {COMPANY: "Company sek"}, "2023-12")
    (table,) = data["tables"]
    assert table["columns"] == rows[0][1:]
    assert [[r["row"], *map(str, r["cells"])] for r in table["rows"]] == [
        [c if not re.fullmatch(r"-?\d+\.\d\d", c) else str(float(c)) for c in row] for row in rows[1:]]
    assert data["warnings"] == []


@sqlite_only
def test_the_report_assets_fail_the_same_checks(tmp_path: Path, warehouse_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster import instance_for_test

    from .test_report_assets import metadata, run

    monkeypatch.setenv("OSR_HOME", str(tmp_path / "home"))
    insert_books(warehouse_url).dispose()
    wh = Warehouse(warehouse_url)
    with wh.engine.begin() as conn:  # a balanced voucher on an account no statutory line covers
        conn.execute(insert(gl_postings), [
            {"company": COMPANY, "posting_id": f"V10-{n}", "voucher_number": "V10", "voucher_date": date(2024, 1, 9),
             "period": 202401, "account": account, "amount": Decimal(value), "currency": "SEK",
             "amount_currency": Decimal(value)} for n, (account, value) in enumerate([("9990", "25"),
                                                                                      ("1920", "-25")])])
    wh.dispose()
    registry = write_registry(tmp_path / "registry.yaml", [synthetic_connection("books")], [("books", "sek")])
    with instance_for_test() as instance:
        result = run(instance, registry, warehouse_url, COMPANY, "2024-01")
        found = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
        assert found[("income_statement", "accounts_on_lines")] is False  # red in the UI
        assert found[("balance_sheet", "sides_agree")] is True  # a result account: inside Årets resultat
        assert found[("trial_balance", "sums_to_zero")] is True
        assert "1 konto(er) i Company sek har ingen linje i oppstillingen etter regnskapsloven §§ 6-1 og 6-2: 9990" \
            in metadata(result, "income_statement")["warnings"]
        outside = run(instance, registry, warehouse_url, COMPANY, "1999-05")
        found = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in outside.get_asset_check_evaluations()}
        assert not any(found[(asset, "period_in_data")] for asset in ("trial_balance", "income_statement",
                                                                      "balance_sheet"))
