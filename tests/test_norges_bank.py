"""Rates from Norges Bank's EXR dataflow, read from its sandbox over HTTP, and a consolidation that uses them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from osr_pipelines.connectors.base import MalformedResponse
from osr_pipelines.reports.consolidation import ClientSetup, Eliminations, consolidate, consolidated_income_statement
from osr_pipelines.reports.norges_bank import NorgesBank
from osr_pipelines.reports.rates import MissingRate
from osr_sandbox.norges_bank import norges_bank_app
from osr_sandbox.server import running

from .group_books import PARENT, SUB, insert_group

D = Decimal
#: SEK is quoted per 100: the January mean is (96 + 99 + 90) / 3 = 95, its last business day 90
DAILY = {"SEK": {date(2024, 1, 2): D("96"), date(2024, 1, 15): D("99"), date(2024, 1, 31): D("90")},
         "EUR": {date(2024, 1, 2): D("11.40"), date(2024, 1, 31): D("11.50")}}


@pytest.fixture(scope="module")
def api() -> str:
    with running(norges_bank_app(DAILY)) as base:
        yield f"{base}/api"


def test_average_and_closing_rates_per_unit(api: str) -> None:
    rates = NorgesBank(api).rates()
    assert rates.average("SEK", "NOK", 202401) == D("0.95")
    assert rates.closing("SEK", "NOK", 202401) == D("0.90")
    assert rates.average("EUR", "NOK", 202401) == D("11.45")
    assert rates.closing("SEK", "EUR", 202401) == D("0.90") / D("11.50")  # crossed through NOK


def test_a_month_without_rates_names_currency_month_and_source(api: str) -> None:
    with pytest.raises(MissingRate, match=rf"no average rate for SEK in 2024-02 in Norges Bank \({api}\)"):
        NorgesBank(api).rates().average("SEK", "NOK", 202402)
    with pytest.raises(MissingRate, match="no average rate for CHF in 2024-01"):  # the API has no such series: 404
        NorgesBank(api).rates().average("CHF", "NOK", 202401)


def test_consolidation_with_norges_bank_rates_matches_the_hand_calculation(api: str, warehouse_url: str) -> None:
    wh = insert_group(warehouse_url)
    setup = ClientSetup("Group", "NOK", (PARENT, SUB), Eliminations(counterparty="free_dimension_1"))
    group = consolidate(wh.engine, setup, NorgesBank(api).rates(), 202401)
    wh.dispose()
    total = consolidated_income_statement(group).rows[-1].cells
    assert total[1:] == ("Resultat", D("700.00"), D("1900.00"), D("0.00"), D("2600.00"))
    assert group.parts[SUB].difference == D("100.00")


def test_an_answer_that_is_not_sdmx_json_is_malformed() -> None:
    app = Starlette(routes=[Route("/api/data/EXR/{key}", lambda request: JSONResponse({"data": {}}))])
    with running(app) as base, pytest.raises(MalformedResponse, match="not an SDMX-JSON data message"):
        NorgesBank(f"{base}/api").year("SEK", 2024)


def test_the_group_file_names_its_rates_and_every_problem(tmp_path, api: str) -> None:
    import yaml

    from osr_pipelines.registry import Company, Registry
    from osr_pipelines.reports.groups import client_setup

    registry = Registry(companies=[Company("g", "parent", "P", "Group"), Company("g", "sub", "S", "Group")])
    path = tmp_path / "consolidation.yaml"
    path.write_text(yaml.safe_dump({"clients": {"Group": {"currency": "NOK", "rates": "norges-bank", "rates_url": api,
                                                          "eliminate": {"accounts": [1560]}}}}))
    group = client_setup(registry, "Group", path)
    assert group.setup.companies == (PARENT, SUB) and group.setup.eliminations.accounts == ("1560",)
    assert group.rates().closing("SEK", "NOK", 202401) == D("0.90")
    path.write_text(yaml.safe_dump({"clients": {"Group": {"currency": "kroner", "eliminate": {
        "counterparty": "voucher_number", "company": "g.elim", "by": "x"}}}}))
    with pytest.raises(ValueError) as error:
        client_setup(registry, "Group", path)
    assert str(error.value).splitlines()[1:] == [
        "  - field 'currency': must be a currency code such as NOK, not 'kroner'",
        "  - field 'rates': required: norges-bank, or a CSV file of currency,period,average,closing",
        "  - field 'eliminate.by': unknown (allowed: accounts, company, counterparty)",
        "  - field 'eliminate.counterparty': 'voucher_number' is not one of customer, supplier, department, project, "
        "free_dimension_1, free_dimension_2, free_dimension_3",
        "  - field 'eliminate.company': 'g.elim' is not a company of client 'Group' in the registry",
    ]
    assert str(error.value).startswith(f"{path}: client 'Group':")
