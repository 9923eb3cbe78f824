"""The rates file checked against Norges Bank's levels (the per-100 mistake), its ``unit`` column, and rates
asked only for the months a company has postings in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert

from osr_pipelines.reports import rate_levels
from osr_pipelines.reports.consolidation import ClientSetup, consolidate
from osr_pipelines.reports.rates import RatesFileError, rates_from_csv
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings

from .hand_group import CLIENT, SUB
from .helpers import osr
from .test_historical_equity import write_home

D = Decimal
HEADER = "currency,period,average,closing"


def read(tmp_path: Path, text: str):
    path = tmp_path / "rates.csv"
    path.write_text(text)
    return rates_from_csv(path)


def refused(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(RatesFileError) as error:
        read(tmp_path, text)
    return error.value.problems


def test_sek_typed_per_100_is_refused_naming_the_likely_cause(tmp_path: Path) -> None:
    assert refused(tmp_path, f"{HEADER}\nSEK,2025-01,95.00,90.00\n") == [
        "line 2, column 'average': refused: Norges Bank quoted 0.9897 to 1.024 NOK per 1 SEK on 2016-07-12 and "
        "2025-01-03, and 95 is more than 10 times above that: it looks like NOK per 100 SEK, the way Norges Bank "
        "quotes SEK; divide it by 100, or add a column 'unit' with 100 on its line"]


@pytest.mark.parametrize(("line", "cause"), [
    ("EUR,2025-01,0.0854,0.0850", "it looks like EUR per NOK, the rate turned round; give NOK per 1 EUR"),
    ("SEK,2025-01,0.0095,0.0090", "it looks like a rate per 1 SEK divided by 100 (a unit of 100 given for a rate "
                                  "per 1?); give NOK per 1 unit"),
    ("USD,2025-01,1100,1100", "it looks like NOK per 100 USD; divide it by 100, or add a column 'unit' with 100 "
                              "on its line"),
    ("USD,2025-01,100000,1100", "is more than 10 times above that; give NOK per 1 USD"),
])
def test_other_mistakes_are_named(tmp_path: Path, line: str, cause: str) -> None:
    (problem,) = refused(tmp_path, f"{HEADER}\n{line}\n")
    assert problem.startswith("line 2, column 'average': refused: Norges Bank quoted ") and problem.endswith(cause)


def test_a_unit_column_takes_rates_per_100(tmp_path: Path) -> None:
    rates = read(tmp_path, f"{HEADER},unit\nSEK,2025-01,95.00,90.00,100\nEUR,2025-01,11.50,11.60,\n"
                           "TRY,2016-07,2.92,2.93,1\n")
    assert rates.average("SEK", "NOK", 202501) == D("0.95") and rates.closing("SEK", "NOK", 202501) == D("0.9")
    assert rates.average("EUR", "NOK", 202501) == D("11.50")
    assert rates.closing("EUR", "SEK", 202501) == D("11.60") / D("0.9")  # crossed through NOK
    assert refused(tmp_path, f"{HEADER},unit\nSEK,2025-01,95.00,90.00,10\nSEK,2025-02,85,80\n") == [
        "line 2, column 'unit': must be 1 or 100 (the rates are NOK per that many units of the currency), or empty "
        "for 1",
        "line 3: must have 5 columns (currency,period,average,closing,unit), not 4"]
    assert refused(tmp_path, f"{HEADER},units\n") == [
        "line 1: the header must be currency,period,average,closing, with no column after 'closing' but an "
        "optional 'unit'"]


def test_the_reference_table_covers_the_currencies_norges_bank_quotes_per_100() -> None:
    assert {c for c in ("SEK", "DKK", "JPY", "ISK", "INR") if rate_levels.quoted_unit(c) == 100} == {
        "SEK", "DKK", "JPY", "ISK", "INR"}
    assert rate_levels.quoted_unit("EUR") == rate_levels.quoted_unit("USD") == 1
    assert rate_levels.level("TRY") == (D("0.3216"), D("2.9193"))  # a currency that lost 90 % still passes
    assert rate_levels.implausible("XAU", D("20000")) is None  # not quoted by the bank: nothing to check against


def test_a_per_100_rate_fails_osr_report(home: Path) -> None:
    write_home(home, rates=f"{HEADER}\nSEK,2025-01,95.00,90.00\nSEK,2025-02,85.00,80.00\n")
    result = osr("report", "balance-sheet", "--client", CLIENT, "--period", "2025-02", ok=False)
    assert result.exit_code == 1
    assert "it looks like NOK per 100 SEK, the way Norges Bank quotes SEK" in result.output
    assert "Traceback" not in result.output


def test_only_months_with_postings_need_rates(warehouse_url: str, tmp_path: Path) -> None:
    """A subsidiary starting on 2024-12-15: its 2024-12 report needs December's rates, not January's."""
    wh = Warehouse(warehouse_url)
    rows = [{"company": company, "posting_id": f"{company}-{n}", "voucher_number": "1", "voucher_date": day,
             "period": 202412, "account": account, "amount": D(amount), "currency": currency,
             "amount_currency": D(amount)}
            for company, currency, day in (("p.nok", "NOK", date(2024, 3, 1)), ("s.sek", "SEK", date(2024, 12, 15)))
            for n, (account, amount) in enumerate([("1920", "100"), ("3000", "-100")])]
    rows[0]["period"] = rows[1]["period"] = 202403
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings), rows)
    rates = read(tmp_path, f"{HEADER}\nSEK,2024-12,0.96,0.97\n")
    group = consolidate(wh.engine, ClientSetup("G", "NOK", ("p.nok", "s.sek")), rates, 202412)
    wh.dispose()
    assert group.parts["s.sek"].ytd == {"3000": D("-96.00")} and group.parts["s.sek"].closing == {"1920": D("97.00")}
    assert SUB not in group.parts
