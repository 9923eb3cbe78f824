"""A foreign subsidiary's equity at historical rates (NRS / IAS 21), on both warehouses: the issue's hand case
(see ``hand_group``) and what builds on it, worked out on paper."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from osr_pipelines.registry import Company, Registry
from osr_pipelines.reports.consolidation import ClientSetup, consolidate
from osr_pipelines.reports.groups import GroupFileError, client_setup
from osr_pipelines.reports.rates import rates_from_csv

from .conftest import synthetic_connection
from .hand_group import CLIENT, EQUITY, PARENT, RATES_CSV, SUB, insert_hand_group
from .helpers import osr

D = Decimal


def write_home(home: Path, equity: dict | None = EQUITY, rates: str = RATES_CSV) -> None:
    (home / "registry.yaml").write_text(yaml.safe_dump({
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": CLIENT}]}]}],
        "connections": [synthetic_connection("hand")],
        "companies": [{"connection": "hand", "erp_id": e, "name": f"Hand {e}", "client": CLIENT}
                      for e in ("parent", "sub")]}))
    (home / "rates.csv").write_text(rates)
    entry = {"currency": "NOK", "rates": "rates.csv", **({"equity": equity} if equity is not None else {})}
    (home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {CLIENT: entry}}))


def consolidated(url: str, home: Path, more: dict | None = None, period: int = 202502):
    registry = Registry(companies=[Company("hand", "parent", "P", CLIENT), Company("hand", "sub", "S", CLIENT)])
    config = client_setup(registry, CLIENT, home / "consolidation.yaml")
    wh = insert_hand_group(url, more)
    try:
        return consolidate(wh.engine, config.setup, config.rates(), period)
    finally:
        wh.dispose()


def test_share_capital_at_the_acquisition_rate_and_the_difference_as_residual(warehouse_url: str,
                                                                               tmp_path: Path) -> None:
    write_home(tmp_path)
    group = consolidated(warehouse_url, tmp_path)
    sub = group.parts[SUB]
    assert sub.closing == {"1500": D("20000.00"), "1920": D("8000.00"), "2000": D("-10000.00")}
    assert sub.ytd == {"3000": D("-22750.00")}
    assert sub.difference == D("4750.00")
    assert group.parts[PARENT].difference == 0


def test_osr_report_gives_the_paper_figures(home: Path, warehouse_url: str) -> None:
    insert_hand_group(warehouse_url).dispose()
    write_home(home)
    for signs, sign in (("statement", -1), ("ledger", 1)):
        out = home / signs
        osr("report", "balance-sheet", "--client", CLIENT, "--period", "2025-02", "--out", str(out), "--signs", signs)
        book = load_workbook(next(out.glob("*.xlsx")))
        values = {}
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                numbers = [v for v in row if isinstance(v, int | float) and not isinstance(v, bool)]
                for cell in row:
                    if isinstance(cell, str) and numbers:
                        values.setdefault(cell, numbers[-1])
        # the consolidated column (the parent has no share capital): equity positive unless --signs ledger
        assert values["Aksjekapital"] == sign * -10000, signs
        assert values["Omregningsdifferanse"] == sign * 4750, signs  # a debit: it lowers equity


def test_earlier_years_results_are_retained_at_their_own_average_rates(warehouse_url: str, tmp_path: Path) -> None:
    # a SEK 1,000 sale in September 2024 (average 0.98), closed to equity in the books at the year end (0.97)
    write_home(tmp_path, rates=RATES_CSV + "SEK,2024-09,0.98,0.99\nSEK,2024-12,0.97,0.96\n")
    more = {SUB: [("S3", date(2024, 9, 10), [("1500", "1000"), ("3000", "-1000")]),
                  ("S4", date(2024, 12, 31), [("8960", "1000"), ("2050", "-1000")])]}
    sub = consolidated(warehouse_url, tmp_path, more).parts[SUB]
    assert sub.closing["2050"] == D("-980.00")  # 1,000 x 0.98, not x 0.80 (February's closing rate)
    assert sub.closing["2000"] == D("-10000.00")
    # assets 36,000 x 0.80 = 28,800; equity -10,980; the year's result -22,750
    assert sub.difference == D("4930.00")


def test_a_later_equity_transaction_is_at_its_declared_rate(warehouse_url: str, tmp_path: Path) -> None:
    equity = {SUB: {**EQUITY[SUB], "transactions": [{"period": "2025-02", "rate": "0.86"}]}}
    write_home(tmp_path, equity)
    more = {SUB: [("S5", date(2025, 2, 20), [("1920", "2000"), ("2020", "-2000")])]}
    sub = consolidated(warehouse_url, tmp_path, more).parts[SUB]
    assert sub.closing["2020"] == D("-1720.00")
    assert sub.difference == D("4750.00") + D("2000") * (D("0.86") - D("0.80"))


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_paid_in_equity_without_a_declared_rate_is_refused(warehouse_url: str, tmp_path: Path) -> None:
    write_home(tmp_path)
    more = {SUB: [("S5", date(2025, 2, 20), [("1920", "2000"), ("2020", "-2000")])]}
    with pytest.raises(ValueError) as error:
        consolidated(warehouse_url, tmp_path, more)
    assert str(error.value) == (
        f"{tmp_path / 'consolidation.yaml'}: clients.'{CLIENT}'.equity.'{SUB}': company '{SUB}' (SEK) moved its "
        "paid-in equity in 2025-02 (account 2020), after its acquisition in 2024-06, and no rate is declared for "
        "that month; add {period: 2025-02, rate: <NOK per 1 SEK on that day>} to its transactions")
    write_home(tmp_path, equity=None)
    with pytest.raises(ValueError) as error:
        consolidated(f"sqlite:///{tmp_path / 'undeclared.db'}", tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'consolidation.yaml'}: clients.'{CLIENT}': company '{SUB}' keeps its books in SEK and has "
        "paid-in equity (account 2000), which is translated at the rate of its acquisition; declare it under "
        f"equity: {{{SUB}: {{acquired: {{period: YYYY-MM, rate: <NOK per 1 SEK>}}}}}}")


@pytest.mark.parametrize(("equity", "expected"), [
    ({"hand.other": EQUITY[SUB]},
     [f"clients.'{CLIENT}'.equity: 'hand.other' is not a company of client '{CLIENT}' in the registry"]),
    ({SUB: {"acquired": {"period": "2024-13", "rate": 1}}},
     [f"clients.'{CLIENT}'.equity.'{SUB}'.acquired.period: must be a month written YYYY-MM, such as 2024-06, "
      "not '2024-13'"]),
    ({SUB: {"acquired": {"period": "2024-06", "rate": "1,00"}}},
     [f"clients.'{CLIENT}'.equity.'{SUB}'.acquired.rate: must be a positive number such as 1.05 (units of the "
      "client's currency per 1 unit of the company's), not '1,00'"]),
    ({SUB: {"acquired": {"period": "2024-06", "rate": 1}, "transactions": [{"period": "2024-05", "rate": 1}],
            "other": 1}},
     [f"clients.'{CLIENT}'.equity.'{SUB}': unknown field 'other' (allowed: acquired, transactions)",
      f"clients.'{CLIENT}'.equity.'{SUB}'.transactions[0].period: 2024-05 is not after the acquisition in "
      "2024-06; the acquisition rate covers it"]),
    ({SUB: {"transactions": [{"period": "2025-01", "rate": 1}, {"period": "2025-01", "rate": 2}]}},
     [f"clients.'{CLIENT}'.equity.'{SUB}'.acquired: required: the month and rate of the acquisition, such as "
      "{period: 2024-06, rate: 1.05}",
      f"clients.'{CLIENT}'.equity.'{SUB}'.transactions[1].period: 2025-01 is also transactions[0]; keep one"]),
    ([SUB], [f"clients.'{CLIENT}'.equity: must be a mapping of company keys to their acquisition and equity "
             "transactions, not a list"]),
])
def test_the_equity_section_is_read_strictly(tmp_path: Path, equity: object, expected: list[str]) -> None:
    write_home(tmp_path, equity)
    registry = Registry(companies=[Company("hand", "parent", "P", CLIENT), Company("hand", "sub", "S", CLIENT)])
    with pytest.raises(GroupFileError) as error:
        client_setup(registry, CLIENT, tmp_path / "consolidation.yaml")
    assert error.value.problems == expected


def test_a_client_without_foreign_equity_needs_no_declaration(tmp_path: Path) -> None:
    write_home(tmp_path, equity=None)
    registry = Registry(companies=[Company("hand", "parent", "P", CLIENT), Company("hand", "sub", "S", CLIENT)])
    setup: ClientSetup = client_setup(registry, CLIENT, tmp_path / "consolidation.yaml").setup
    assert setup.equity == {}
    assert rates_from_csv(tmp_path / "rates.csv").average("SEK", "NOK", 202501) == D("0.95")
