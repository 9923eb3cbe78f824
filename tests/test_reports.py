"""Reports against hand-computed figures on small books (see ``report_books``), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from osr_pipelines.reports import ledger
from osr_pipelines.reports.build import build_report
from osr_pipelines.reports.periods import parse_period, shift
from osr_pipelines.reports.statements import income_statement
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


def lines(table) -> dict[str, list]:
    """Statement rows that are not account detail, by name: their figures."""
    return {row.cells[1]: list(row.cells[2:]) for row in table.rows if row.kind in ("line", "total")}


def test_balance_sheet_in_the_statutory_layout_matches_the_hand_calculation(engine) -> None:
    report = build_report("balance-sheet", ledger.from_warehouse(engine, COMPANY, 202301, 202401), 202401)
    table = report.tables[0]
    assert table.columns == ("Linje", "Navn", "Per 2024-01", "Per 31.12.2023")
    # equity and liabilities positive; 2024-01 against 31.12.2023, by hand from the vouchers
    assert lines(table) == {
        "Sum anleggsmidler": [D("0.00"), D("0.00")],
        "Bankinnskudd, kontanter o.l.": [D("1700.00"), D("1400.00")],
        "Sum omløpsmidler": [D("1700.00"), D("1400.00")],
        "Sum eiendeler": [D("1700.00"), D("1400.00")],
        "Opptjent egenkapital": [D("1100.00"), D("400.00")],  # 2022's 400, then 2023's 700 carried
        "Årets resultat": [D("300.00"), D("700.00")],  # inside equity: 2024 so far, and all of 2023
        "Sum egenkapital": [D("1400.00"), D("1100.00")],
        "Sum langsiktig gjeld": [D("0.00"), D("0.00")],
        "Leverandørgjeld": [D("300.00"), D("300.00")],
        "Sum kortsiktig gjeld": [D("300.00"), D("300.00")],
        "Sum egenkapital og gjeld": [D("1700.00"), D("1400.00")],
    }
    names = [row.cells[1] for row in table.rows]
    assert names.index("Årets resultat") < names.index("Sum egenkapital") < names.index("Kortsiktig gjeld")
    assert [row.cells[0] for row in table.rows if row.kind == "account"] == ["1920", "2050", "2400"]
    assert report.balance_difference == [] and report.unmapped == []
    ledger_signs = build_report("balance-sheet", ledger.from_warehouse(engine, COMPANY, 202301, 202401), 202401,
                                signs="ledger")
    assert lines(ledger_signs.tables[0])["Sum egenkapital og gjeld"] == [D("-1700.00"), D("-1400.00")]


#: a year of books with every class: revenue, goods, wages, depreciation, interest both ways, tax, year-end entry
FULL_YEAR = [("3000", "-1000"), ("3600", "-100"), ("4000", "300"), ("5000", "200"), ("6000", "50"),
             ("6300", "100"), ("8050", "-20"), ("8150", "40"), ("8300", "95"), ("1920", "335")]


def full_year(extra: tuple = ()) -> ledger.Ledger:
    rows = tuple((a, 202412, D(v) if D(v) > 0 else D("0.00"), -D(v) if D(v) < 0 else D("0.00"))
                 for a, v in (*FULL_YEAR, *extra))
    from osr_pipelines.reports.accounts import chart

    return ledger.Ledger("hand.1", "NOK", 202301, 202412, chart({}, {r[0] for r in rows}), rows)


def test_income_statement_in_the_statutory_layout_splits_class_8_at_tax() -> None:
    report = build_report("income-statement", full_year(), 202412)
    found = {name: values[1] for name, values in lines(report.tables[0]).items()}  # the year to date
    assert found == {
        "Salgsinntekt": D("1000.00"), "Annen driftsinntekt": D("100.00"), "Sum driftsinntekter": D("1100.00"),
        "Varekostnad": D("300.00"), "Lønnskostnad": D("200.00"), "Av- og nedskrivning": D("50.00"),
        "Annen driftskostnad": D("100.00"), "Sum driftskostnader": D("650.00"),
        "Driftsresultat": D("450.00"),
        "Finansinntekt": D("20.00"), "Sum finansinntekter": D("20.00"),  # 8050 interest income
        "Finanskostnad": D("40.00"), "Sum finanskostnader": D("40.00"),  # 8150 interest cost
        "Resultat før skattekostnad": D("430.00"),
        "Skattekostnad på ordinært resultat": D("95.00"), "Sum skattekostnad": D("95.00"),  # 8300 below the line
        "Årsresultat": D("335.00"),
    }
    order = [row.cells[1] for row in report.tables[0].rows]
    assert order.index("Driftsresultat") < order.index("Finansinntekter") < \
        order.index("Resultat før skattekostnad") < order.index("Skattekostnad") < order.index("Årsresultat")
    booked = build_report("income-statement", full_year((("8800", "335"), ("2050", "-335"))), 202412)
    assert lines(booked.tables[0])["Årsresultat"][1] == D("335.00")  # the year-end entry comes after it
    assert lines(booked.tables[0])["Sum overføringer og disponeringer"][1] == D("335.00")
    english = build_report("income-statement", full_year(), 202412, lang="en", signs="ledger")
    assert lines(english.tables[0])["Result for the year"][1] == D("-335.00")  # a profit is a credit
    assert lines(english.tables[0])["Operating result"][1] == D("-450.00")


def test_an_account_no_line_covers_is_listed_apart_and_counted_in_no_total() -> None:
    report = build_report("income-statement", full_year((("9990", "10"), ("1920", "-10"))), 202412)
    assert report.unmapped == ["9990"]
    assert lines(report.tables[0])["Årsresultat"][1] == D("335.00")
    assert lines(report.tables[0])["Sum kontoer uten linje"][1] == D("10.00")
    assert [row.cells for row in report.tables[1].rows] == [("9990", "")]


def test_amounts_in_norwegian_and_english() -> None:
    from osr_pipelines.reports.numbers import amount

    assert amount(D("-1234567.5")) == "-1\u00a0234\u00a0567,50"
    assert amount(D("-1234567.5"), "en") == "-1,234,567.50"
    assert amount(D("-0.00")) == amount(D("-0.001")) == "0,00"  # never a negative zero


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
