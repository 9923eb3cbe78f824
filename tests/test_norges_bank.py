"""Rates from Norges Bank's EXR dataflow, read from its sandbox over HTTP, and a consolidation that uses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from osr_pipelines.connectors.base import MalformedResponse
from osr_pipelines.reports.consolidation import ClientSetup, Eliminations, consolidate, consolidated_income_statement
from osr_pipelines.reports.norges_bank import NorgesBank
from osr_pipelines.reports.rates import MissingRate
from osr_sandbox.norges_bank import QUOTES, norges_bank_app
from osr_sandbox.server import running

from .group_books import PARENT, SUB, insert_group

D = Decimal
DOC = Path(__file__).resolve().parents[1] / "docs" / "rates" / "norges-bank.md"
#: SEK is quoted per 100: the January mean is (96 + 99 + 90) / 3 = 95, its last business day 90
DAILY = {"SEK": {date(2024, 1, 2): D("96"), date(2024, 1, 15): D("99"), date(2024, 1, 31): D("90")},
         "EUR": {date(2024, 1, 2): D("11.40"), date(2024, 1, 31): D("11.50")},
         "JPY": {date(2024, 1, 2): D("6.0375"), date(2024, 1, 31): D("6.0375")}}


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
    # per company, eliminations and the group year to date; the group's month, last year's month and YTD
    assert total[1:] == ("Årsresultat", D("700.00"), D("1900.00"), D("0.00"), D("2600.00"), D("2600.00"), D("0.00"),
                         D("0.00"))
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
    assert str(error.value).splitlines() == [
        f"invalid group file {path}:",
        "  - clients.'Group'.currency: must be a currency code such as NOK, not 'kroner'",
        "  - clients.'Group'.rates: required: norges-bank, or a CSV file of currency,period,average,closing",
        "  - clients.'Group'.eliminate: unknown field 'by' (allowed: accounts, company, counterparty)",
        "  - clients.'Group'.eliminate.counterparty: 'voucher_number' is not one of customer, supplier, department, "
        "project, free_dimension_1, free_dimension_2, free_dimension_3",
        "  - clients.'Group'.eliminate.company: 'g.elim' is not a company of client 'Group' in the registry",
    ]


def _altered(upstream: str, change: Callable[[dict], None]) -> Starlette:
    """The sandbox's answers with ``change`` applied to their SDMX-JSON bodies."""

    async def data(request: Request) -> JSONResponse:
        async with httpx.AsyncClient() as client:
            body = (await client.get(upstream + request.url.path, params=request.query_params)).json()
        change(body)
        return JSONResponse(body)

    return Starlette(routes=[Route("/api/data/EXR/{key}", data)])


def _without_unit_mult(body: dict) -> None:
    attributes = body["data"]["structure"]["attributes"]["series"]
    position = [a["id"] for a in attributes].index("UNIT_MULT")
    del attributes[position]
    for series in body["data"]["dataSets"][0]["series"].values():
        del series["attributes"][position]


def _unreadable_unit_mult(body: dict) -> None:
    for attribute in body["data"]["structure"]["attributes"]["series"]:
        if attribute["id"] == "UNIT_MULT":
            attribute["values"] = [{"id": "Hundreds"}]


@pytest.mark.parametrize("change", [_without_unit_mult, _unreadable_unit_mult])
def test_a_series_without_a_readable_unit_mult_is_an_error_naming_currency_and_request(api, change) -> None:
    """JPY is quoted per 100 yen: read as per 1 yen, 6.0375 would be a hundred times the rate."""
    upstream = api.removesuffix("/api")
    with running(_altered(upstream, change)) as base:
        secret_base = base.replace("http://", "http://reader:hunter2@") + "/api"
        with pytest.raises(MalformedResponse) as error:
            NorgesBank(secret_base).rates().average("JPY", "NOK", 202401)
    message = str(error.value)
    assert message == (
        f"connection 'norges-bank': GET {base}/api/data/EXR/M.JPY.NOK.SP?format=sdmx-json&startPeriod=2024-01"
        "&endPeriod=2024-12&locale=en: the JPY series has no readable UNIT_MULT attribute, so whether its rates are "
        "per 1 or per 100 JPY is unknown; check that rates_url is Norges Bank's API (https://data.norges-bank.no/api), "
        "or give the rates as a CSV file (rates: <file>.csv)")
    assert "hunter2" not in message and "\n" not in message


def _attributes(body: dict) -> dict[str, str]:
    """The one series' attributes by id, as an SDMX-JSON reader resolves them."""
    (series,) = body["data"]["dataSets"][0]["series"].values()
    return {a["id"]: a["values"][i]["id"] for a, i in zip(body["data"]["structure"]["attributes"]["series"],
                                                          series["attributes"], strict=True)}


def test_the_sandbox_quotes_jpy_per_100_with_4_decimals_and_sek_with_2(api: str) -> None:
    daily = httpx.get(f"{api}/data/EXR/B.JPY.NOK.SP", params={"format": "sdmx-json"}).json()
    assert _attributes(daily) == {"DECIMALS": "4", "CALCULATED": "false", "UNIT_MULT": "2", "COLLECTION": "C"}
    sek = httpx.get(f"{api}/data/EXR/M.SEK.NOK.SP", params={"format": "sdmx-json"}).json()
    assert _attributes(sek)["DECIMALS"] == "2" and _attributes(sek)["UNIT_MULT"] == "2"
    (series,) = sek["data"]["dataSets"][0]["series"].values()
    assert series["observations"] == {"0": ["95.00"]}
    assert NorgesBank(api).rates().closing("JPY", "NOK", 202401) == D("0.060375")


def test_the_sandbox_serves_exactly_the_documented_units_and_decimals() -> None:
    rows = re.findall(r"^\| ([A-Z]{3}) \| (\d) \(per [^|]*\| (\d) \|", DOC.read_text(), re.MULTILINE)
    assert {currency: (int(unit), int(decimals)) for currency, unit, decimals in rows} == QUOTES


def test_the_sandbox_refuses_currencies_and_decimals_the_real_series_do_not_have() -> None:
    with pytest.raises(ValueError, match=r"serves SEK, DKK, JPY, EUR, USD, GBP .*, not CHF"):
        norges_bank_app({"CHF": {date(2024, 1, 2): D("1160.5")}})
    with pytest.raises(ValueError, match=r"SEK on 2024-01-02: 96.125 has more than the 2 decimals"):
        norges_bank_app({"SEK": {date(2024, 1, 2): D("96.125")}})
