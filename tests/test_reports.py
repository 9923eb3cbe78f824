"""Reports against hand-computed figures on small books (see ``report_books``), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from osr_pipelines.reports import ledger
from osr_pipelines.reports.periods import parse_period, shift
from osr_pipelines.reports.statements import balance_sheet, income_statement
from osr_pipelines.reports.trial_balance import (
    TrialBalance,
    broken_carry_forward,
    trial_balance,
    unbalanced_months,
)

from .report_books import COMPANY, insert_books

D = Decimal


def closing(tb: TrialBalance, period: int) -> dict[str, Decimal]:
    return {r.account: r.closing for r in tb.of(period)}


def opening(tb: TrialBalance, period: int) -> dict[str, Decimal]:
    return {r.account: r.opening for r in tb.of(period)}


@pytest.fixture
def engine(warehouse_url: str):
    wh = insert_books(warehouse_url)
    yield wh.engine
    wh.dispose()


def test_trial_balance_matches_the_hand_calculation(engine) -> None:
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, 202312, 202402))
    assert tb.currency == "SEK"
    assert tb.periods == [202312, 202401, 202402]
    dec = {r.account: (r.opening, r.debit, r.credit, r.movement, r.closing) for r in tb.of(202312)}
    assert dec == {
        "1500": (D("1000.00"), D("0.00"), D("1000.00"), D("-1000.00"), D("0.00")),
        "1920": (D("400.00"), D("1000.00"), D("0.00"), D("1000.00"), D("1400.00")),
        "2050": (D("-400.00"), D("0.00"), D("0.00"), D("0.00"), D("-400.00")),  # the 2022 profit, carried
        "2400": (D("0.00"), D("0.00"), D("300.00"), D("-300.00"), D("-300.00")),
        "3000": (D("-1000.00"), D("0.00"), D("0.00"), D("0.00"), D("-1000.00")),  # only 2023 before December
        "4000": (D("0.00"), D("300.00"), D("0.00"), D("300.00"), D("300.00")),
    }
    assert closing(tb, 202401) == {"1920": D("1700.00"), "2050": D("-1100.00"), "2400": D("-300.00"),
                                   "3000": D("-500.00"), "6300": D("200.00")}
    assert closing(tb, 202402) == {"1920": D("1650.00"), "2050": D("-1100.00"), "2400": D("-300.00"),
                                   "3000": D("-500.00"), "6300": D("200.00"), "7770": D("50.00")}
    assert tb.accounts["7770"].is_balance is False  # not in the dimension: NS 4102 class 7 is a result account
    assert tb.accounts["6300"].is_balance is False  # type left empty: NS 4102 decides


def test_a_years_profit_is_the_change_in_equity_from_the_year_end_transfer(engine) -> None:
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, 202301, 202401))
    profit_2023 = D("1000.00") - D("300.00")  # sales V1 less goods V2, by hand
    equity_change = opening(tb, 202401)["2050"] - closing(tb, 202312)["2050"]
    assert equity_change == -profit_2023  # a credit to equity
    assert -sum(v for a, v in closing(tb, 202312).items() if a[0] in "345678") == profit_2023
    assert {a: v for a, v in opening(tb, 202401).items() if a[0] in "345678"} == {"3000": D("0.00"),
                                                                                 "6300": D("0.00")}


def test_a_booked_year_end_entry_leaves_nothing_to_carry(warehouse_url: str) -> None:
    from datetime import date

    from sqlalchemy import insert

    from osr_pipelines.warehouse.schema import gl_postings

    wh = insert_books(warehouse_url)
    with wh.engine.begin() as conn:  # 8800 Årsresultat against 2050, as an ERP's year-end closing books it
        conn.execute(insert(gl_postings), [
            {"company": COMPANY, "posting_id": f"YE-{n}", "voucher_number": "YE", "voucher_date": date(2023, 12, 31),
             "period": 202312, "account": account, "amount": D(amount), "currency": "SEK",
             "amount_currency": D(amount)} for n, (account, amount) in enumerate([("8800", "700"), ("2050", "-700")])])
    tb = trial_balance(ledger.from_warehouse(wh.engine, COMPANY, 202312, 202401))
    assert closing(tb, 202312)["2050"] == D("-1100.00")
    assert opening(tb, 202401)["2050"] == D("-1100.00")
    assert not unbalanced_months(tb) and not broken_carry_forward(tb)
    wh.dispose()


def test_the_first_months_opening_is_everything_before(engine) -> None:
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, 202402, 202402))
    assert opening(tb, 202402) == {"1920": D("1700.00"), "2050": D("-1100.00"), "2400": D("-300.00"),
                                   "3000": D("-500.00"), "6300": D("200.00"), "7770": D("0.00")}


def test_reconciliation_holds_and_catches_a_broken_ledger(engine) -> None:
    good = ledger.from_warehouse(engine, COMPANY, 202201, 202402)
    tb = trial_balance(good)
    assert unbalanced_months(tb) == [] and broken_carry_forward(tb) == []
    one_sided = ledger.Ledger(good.company, good.currency, good.from_period, good.to_period, good.accounts,
                              (*good.rows, ("1920", 202401, D("10.00"), D("0.00"))))
    broken = unbalanced_months(trial_balance(one_sided))
    assert [(d.period, d.found) for d in broken] == [(202401, D("10.00")), (202402, D("10.00"))]
    bad_tb = trial_balance(good)
    bad_tb.rows.remove(next(r for r in bad_tb.rows if r.period == 202401 and r.account == "2400"))
    assert [(d.period, d.account) for d in broken_carry_forward(bad_tb)] == [(202401, "2400"), (202402, "2400")]


def test_income_statement_matches_the_hand_calculation(engine) -> None:
    period = parse_period("2023-12")
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, shift(period, -23), period))
    report = income_statement(tb, period)
    lines = {line.line.code: line.values for line in report.lines}
    # period, year to date, same period last year, last year's year to date; profit positive
    assert lines == {"3": [D("0.00"), D("1000.00"), D("400.00"), D("400.00")],
                     "4": [D("-300.00"), D("-300.00"), D("0.00"), D("0.00")]}
    assert report.total == [D("-300.00"), D("700.00"), D("400.00"), D("400.00")]
    assert report.monthly_result[2023] == [D("0.00")] * 10 + [D("1000.00"), D("-300.00")]
    assert report.monthly_result[2022] == [D("0.00")] * 11 + [D("400.00")]


def test_income_statement_needs_last_years_january(engine) -> None:
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, 202301, 202312))
    with pytest.raises(ValueError, match=r"company 'books.sek'.* needs the trial balance from 202201"):
        income_statement(tb, 202312)


def test_balance_sheet_matches_the_hand_calculation(engine) -> None:
    tb = trial_balance(ledger.from_warehouse(engine, COMPANY, 202312, 202402))
    sheet = balance_sheet(tb)
    january = {line.line.name: line.values for line in sheet.by_period[202401]}
    assert january == {
        "Omløpsmidler": [D("1400.00"), D("300.00"), D("1700.00")],
        "Egenkapital": [D("-1100.00"), D("0.00"), D("-1100.00")],
        "Kortsiktig gjeld": [D("-300.00"), D("0.00"), D("-300.00")],
        "Årets resultat": [D("0.00"), D("-300.00"), D("-300.00")],
    }
    assert all(sheet.total(p) == [D("0.00")] * 3 for p in sheet.periods)


@pytest.mark.parametrize("text", ["2024-13", "2024-00", "0000-01", "1899-12", "3000-01", "24-01", "2024-1"])
def test_a_period_that_is_not_a_month_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=rf"^--period: '{text}' is not a month from 1900-01 to 2999-12; write it as "
                                         "YYYY-MM"):
        parse_period(text)


def test_months_from_1900_to_2999_are_periods() -> None:
    assert [parse_period(t) for t in ("1900-01", "2024-03", " 2999-12 ")] == [190001, 202403, 299912]


def test_a_direct_connection_without_its_credential_names_the_variable(tmp_path, monkeypatch) -> None:
    from datetime import date

    from osr_pipelines.registry import load_registry
    from osr_pipelines.reports.source import ReportError, company_ledger

    from .conftest import synthetic_connection, write_registry

    monkeypatch.delenv("OSR_TEST_UNSET_KEY", raising=False)
    connection = {**synthetic_connection("live", mode="direct", companies="2001"),
                  "credentials": {"api_key": "OSR_TEST_UNSET_KEY"}}
    registry = load_registry(write_registry(tmp_path / "registry.yaml", [connection], [("live", "2001")]))
    with pytest.raises(ReportError, match=r"company 'live.2001': connection 'live' is direct and its credentials "
                                          r"are not set: api_key \(environment variable OSR_TEST_UNSET_KEY\)"):
        company_ledger(registry, None, "live.2001", 202401, date(2024, 1, 31))
    with pytest.raises(ReportError, match=r"company 'live.9999' is not in the registry"):
        company_ledger(registry, None, "live.9999", 202401, date(2024, 1, 31))
