"""A sandbox of Norges Bank's open data API for exchange rates: ``GET /api/data/EXR/{key}`` in SDMX-JSON.

It serves daily rates it is given, as the bank quotes them: each currency
with the unit (``UNIT_MULT``: SEK, DKK and JPY per 100 units) and the decimals
(``DECIMALS``) its real series carries, and no currency whose unit is not
known, since a made-up unit would let a wrong reading pass. It computes the
monthly series (frequency ``M``) as the mean of the month's business days,
rounded to the series' decimals. A query without observations is a 404, as
SDMX services answer it. Sources: docs/rates/norges-bank.md.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

#: per currency: (UNIT_MULT, DECIMALS) of its EXR series, each from the table in docs/rates/norges-bank.md
QUOTES = {"SEK": (2, 2), "DKK": (2, 2), "JPY": (2, 4), "EUR": (0, 4), "USD": (0, 4), "GBP": (0, 4)}


def _step(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def _monthly(daily: dict[date, Decimal], decimals: int) -> dict[str, Decimal]:
    months: dict[str, list[Decimal]] = defaultdict(list)
    for day, value in daily.items():
        months[f"{day.year}-{day.month:02d}"].append(value)
    return {m: (sum(v, Decimal(0)) / len(v)).quantize(_step(decimals), ROUND_HALF_UP) for m, v in months.items()}


def _check(daily: dict[str, dict[date, Decimal]]) -> None:
    """Rates the real series could carry: known currencies, no more decimals than theirs."""
    unknown = sorted(set(daily) - set(QUOTES))
    if unknown:
        raise ValueError(f"the Norges Bank sandbox serves {', '.join(QUOTES)} (units and decimals of the real series, "
                         f"docs/rates/norges-bank.md), not {', '.join(unknown)}")
    for currency, days in daily.items():
        decimals = QUOTES[currency][1]
        for day, value in days.items():
            if value != value.quantize(_step(decimals)):
                raise ValueError(f"{currency} on {day}: {value} has more than the {decimals} decimals "
                                 f"Norges Bank quotes {currency} with")


def _inside(period: str, start: str | None, end: str | None) -> bool:
    """SDMX periods compare by their leading characters: ``2024-01`` holds ``2024-01-31``."""
    return (not start or period[:len(start)] >= start) and (not end or period[:len(end)] <= end)


def norges_bank_app(daily: dict[str, dict[date, Decimal]]) -> Starlette:
    """The API over ``daily``: currency -> business day -> rate as quoted (per 10**UNIT_MULT units)."""
    _check(daily)

    async def data(request: Request) -> Response:
        key = request.path_params["key"]
        parts = key.split(".")
        if len(parts) != 4 or parts[0] not in ("B", "M") or parts[2] != "NOK" or parts[3] != "SP":
            return PlainTextResponse(f"Invalid key {key}: FREQ.BASE_CUR.NOK.SP", status_code=400)
        if request.query_params.get("format") != "sdmx-json":
            return PlainTextResponse("this sandbox answers format=sdmx-json only", status_code=406)
        start, end = request.query_params.get("startPeriod"), request.query_params.get("endPeriod")
        frequency, currencies = parts[0], [c for c in parts[1].split("+") if c in daily]
        series_values = {}
        for currency in currencies:
            multiplier, decimals = QUOTES[currency]
            quoted = ({d.isoformat(): v.quantize(_step(decimals)) for d, v in daily[currency].items()}
                      if frequency == "B" else _monthly(daily[currency], decimals))
            chosen = {p: v for p, v in quoted.items() if _inside(p, start, end)}
            if chosen:
                series_values[currency] = (multiplier, decimals, chosen)
        if not series_values:
            return PlainTextResponse("NoResultsFound", status_code=404)
        times = sorted({p for _, _, values in series_values.values() for p in values})
        units = sorted({m for m, _, _ in series_values.values()})
        decimals = sorted({d for _, d, _ in series_values.values()})
        series = {
            f"0:{i}:0:0": {"attributes": [decimals.index(d), 0, units.index(m), 0],
                           "observations": {str(times.index(p)): [str(v)] for p, v in sorted(values.items())}}
            for i, (m, d, values) in enumerate(series_values.values())
        }
        body = {
            "meta": {"id": "sandbox", "prepared": date.today().isoformat(), "test": True,
                     "sender": {"id": "NB", "name": "Norges Bank"}},
            "data": {
                "dataSets": [{"action": "Information", "series": series}],
                "structure": {
                    "name": "Exchange Rates",
                    "dimensions": {
                        "dataset": [],
                        "series": [
                            {"id": "FREQ", "keyPosition": 0, "values": [{"id": frequency}]},
                            {"id": "BASE_CUR", "keyPosition": 1, "values": [{"id": c} for c in series_values]},
                            {"id": "QUOTE_CUR", "keyPosition": 2, "values": [{"id": "NOK"}]},
                            {"id": "TENOR", "keyPosition": 3, "values": [{"id": "SP"}]},
                        ],
                        "observation": [{"id": "TIME_PERIOD", "role": "time", "values": [{"id": t} for t in times]}],
                    },
                    "attributes": {
                        "dataset": [],
                        "series": [
                            {"id": "DECIMALS", "values": [{"id": str(d)} for d in decimals]},
                            {"id": "CALCULATED", "values": [{"id": "false"}]},
                            {"id": "UNIT_MULT", "values": [{"id": str(m)} for m in units]},
                            {"id": "COLLECTION", "values": [{"id": "C"}]},
                        ],
                        "observation": [],
                    },
                },
            },
        }
        return JSONResponse(body)

    return Starlette(routes=[Route("/api/data/EXR/{key}", data)])
