"""Exchange rates from Norges Bank's open data API (dataflow ``EXR``, SDMX-JSON).

Norges Bank quotes about 40 currencies against NOK. A month's average rate is
its own series (frequency ``M``); the closing rate is the last business day's
rate of the month (frequency ``B``). Some currencies are quoted per 100 units
(``UNIT_MULT`` 2: SEK, DKK and JPY among them), so every value is divided by
``10 ** UNIT_MULT`` to give NOK per one unit. A series without a readable
``UNIT_MULT`` is an error, not a rate per one unit: guessing would be off by a
factor of 100 for those currencies. Sources: docs/rates/norges-bank.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from osr_pipelines.connectors.base import MalformedResponse
from osr_pipelines.connectors.http import HttpClient, HttpStatusError
from osr_pipelines.reports.rates import Rates

API = "https://data.norges-bank.no/api"
SOURCE = "norges-bank"


def _unit_mult(attributes: list, series: dict) -> int | None:
    """The series' ``UNIT_MULT`` (a power of ten), or ``None`` when it has none or an unreadable one."""
    for attribute, index in zip(attributes, series.get("attributes", []), strict=False):
        if attribute.get("id") != "UNIT_MULT":
            continue
        if not isinstance(index, int) or index < 0:
            return None
        try:
            return int(attribute["values"][index]["id"])
        except (IndexError, KeyError, TypeError, ValueError):
            return None
    return None


def observations(body: Any, currency: str, request: str) -> dict[str, Decimal]:
    """``TIME_PERIOD -> NOK per unit`` of ``currency``'s series in an SDMX-JSON data message.

    ``request`` (method and URL) names the query in errors.
    """
    data = body["data"]
    structure = data["structure"]
    times = [v["id"] for v in structure["dimensions"]["observation"][0]["values"]]
    attributes = structure["attributes"]["series"]
    out: dict[str, Decimal] = {}
    for series in data["dataSets"][0]["series"].values():
        multiplier = _unit_mult(attributes, series)
        if multiplier is None:
            raise MalformedResponse(
                f"{request}: the {currency} series has no readable UNIT_MULT attribute, so whether its rates are "
                f"per 1 or per 100 {currency} is unknown; check that rates_url is Norges Bank's API ({API}), "
                f"or give the rates as a CSV file (rates: <file>.csv)", connection=SOURCE)
        for position, values in series["observations"].items():
            out[times[int(position)]] = Decimal(str(values[0])).scaleb(-multiplier)
    return out


def _month(text: str) -> int:
    """``2024-01`` or ``2024-01-31`` as ``202401``."""
    return int(text[:4] + text[5:7])


class NorgesBank:
    """Monthly average and closing rates of a currency: a year per two requests, asked when first needed."""

    def __init__(self, base_url: str = API) -> None:
        self.base_url = base_url.rstrip("/")

    def _series(self, client: HttpClient, frequency: str, currency: str, start: str, end: str) -> dict[str, Decimal]:
        path = f"/data/EXR/{frequency}.{currency}.NOK.SP"
        params = {"format": "sdmx-json", "startPeriod": start, "endPeriod": end, "locale": "en"}
        try:
            body = client.request_json("GET", path, params=params)
        except HttpStatusError as exc:
            if exc.status == 404:  # SDMX's answer for a query without observations
                return {}
            raise
        # the URL as sent, less any user info in rates_url (it may hold a password)
        request = f"GET {httpx.URL(self.base_url + path, params=params).copy_with(userinfo=b'')}"
        try:
            return observations(body, currency, request)
        except (KeyError, IndexError, TypeError, ValueError, ArithmeticError) as exc:
            raise MalformedResponse(f"GET {path}: not an SDMX-JSON data message ({type(exc).__name__}: {exc})",
                                    connection=SOURCE) from None

    def year(self, currency: str, year: int) -> dict[int, tuple[Decimal, Decimal]]:
        client = HttpClient(self.base_url, connection=SOURCE)
        try:
            averages = self._series(client, "M", currency, f"{year}-01", f"{year}-12")
            daily = self._series(client, "B", currency, f"{year}-01-01", f"{year}-12-31")
        finally:
            client.close()
        closing = {_month(day): value for day, value in sorted(daily.items())}  # the last business day wins
        return {_month(m): (value, closing[_month(m)]) for m, value in averages.items() if _month(m) in closing}

    def rates(self) -> Rates:
        return Rates(source=f"Norges Bank ({self.base_url})", fetch=self.year)
