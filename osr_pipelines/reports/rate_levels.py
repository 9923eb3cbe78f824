"""Where Norges Bank's exchange rates lie, per currency: what a rates file is checked against, without a network.

A rate typed as Norges Bank quotes it (95.00 for 100 SEK) read as NOK per one
SEK makes a subsidiary 100 times too large, and nothing else would notice.
These are the bank's own daily rates on two days nine years apart, as NOK per
one unit, and the unit the bank quotes each currency per; a rate more than ten
times above the higher or below the lower is refused. Two days, not one, so
that a currency that lost much of its value over the years (the Turkish lira:
2.92 NOK in 2016, 0.32 in 2025) still accepts its rates of either time.

Source: Norges Bank's daily exchange rates (``EXR``, frequency ``B``) on
2016-07-12 and 2025-01-03, as published in
``frefrik/norway-finance-statistics`` ``data/no_exchangeRates.csv`` at
000137e5 (read from ``https://data.norges-bank.no/api/data/EXR/B..NOK.SP``),
divided by each currency's quoting unit. The unit is the bank's ``UNIT_MULT``
where docs/rates/norges-bank.md shows it (SEK, DKK, JPY: 100; EUR, USD, GBP:
1) and otherwise follows from the size of the quoted value (CHF at 1251.12
can only be per 100). An empty cell means the bank quoted no rate that day.
"""

from __future__ import annotations

from decimal import Decimal

#: currency: (NOK per unit on 2016-07-12, NOK per unit on 2025-01-03, the unit Norges Bank quotes it per)
_QUOTED: dict[str, tuple[str, str, int]] = {
    "AUD": ("6.434", "7.0748", 1),
    "BDT": ("", "9.36", 100),
    "BGN": ("478.06", "598.89", 100),
    "BRL": ("2.5677", "1.8452", 1),
    "BYN": ("4.2147", "3.4752", 1),
    "CAD": ("6.4696", "7.8918", 1),
    "CHF": ("857.47", "1251.12", 100),
    "CNY": ("126.1", "155.4", 100),
    "CZK": ("34.586", "46.543", 100),
    "DKK": ("125.71", "157.01", 100),
    "EUR": ("9.3499", "11.713", 1),
    "GBP": ("11.095", "14.1132", 1),
    "HKD": ("1.0866", "1.4619", 1),
    "HRK": ("124.79", "", 100),
    "HUF": ("2.9782", "2.8229", 100),
    "IDR": ("0.064236", "0.070122", 100),
    "ILS": ("2.1763", "3.114", 1),
    "INR": ("12.563", "13.26", 100),
    "ISK": ("", "8.13", 100),
    "JPY": ("8.1099", "7.2405", 100),
    "KRW": ("0.7355", "0.7743", 100),
    "MMK": ("", "0.5416", 100),
    "MXN": ("46.09", "55.16", 100),
    "MYR": ("2.1267", "2.5273", 1),
    "NZD": ("6.1577", "6.3775", 1),
    "PHP": ("17.798", "19.575", 100),
    "PKR": ("8.034", "4.084", 100),
    "PLN": ("2.1168", "2.7415", 1),
    "RON": ("208.04", "235.43", 100),
    "RUB": ("13.203", "", 100),
    "SEK": ("98.97", "102.39", 100),
    "SGD": ("6.2587", "8.2994", 1),
    "THB": ("23.967", "33.018", 100),
    "TRY": ("291.93", "32.16", 100),
    "TWD": ("26.222", "34.536", 100),
    "USD": ("8.4294", "11.3729", 1),
    "XDR": ("11.73177", "14.77694", 1),
    "ZAR": ("0.5893", "0.607", 1),
    "VND": ("", "0.0447", 100),
}
#: how far a rate may lie from the bank's levels before it is refused
FACTOR = 10


def quoted_unit(currency: str) -> int | None:
    """The unit Norges Bank quotes ``currency`` per (1 or 100), or ``None`` for a currency it does not quote."""
    found = _QUOTED.get(currency)
    return found[2] if found else None


def level(currency: str) -> tuple[Decimal, Decimal] | None:
    """The lowest and highest NOK per one unit of ``currency`` on the reference days, or ``None``."""
    found = _QUOTED.get(currency)
    if found is None:
        return None
    values = [Decimal(text) / found[2] for text in found[:2] if text]
    return min(values), max(values)


def implausible(currency: str, nok_per_unit: Decimal) -> str | None:
    """Why a rate of ``currency`` cannot be NOK per one unit, naming the likely mistake; ``None`` if it can be."""
    found = level(currency)
    if found is None or nok_per_unit <= 0:
        return None
    low, high = found
    if low / FACTOR <= nok_per_unit <= high * FACTOR:
        return None
    where = (f"Norges Bank quoted {float(low):.4g} to {float(high):.4g} NOK per 1 {currency} on 2016-07-12 and "
             f"2025-01-03, and {nok_per_unit.normalize():f} is more than {FACTOR} times "
             f"{'above' if nok_per_unit > high else 'below'} that")
    causes = {
        nok_per_unit / 100: f"it looks like NOK per 100 {currency}"
                            + (f", the way Norges Bank quotes {currency}" if quoted_unit(currency) == 100 else "")
                            + "; divide it by 100, or add a column 'unit' with 100 on its line",
        nok_per_unit * 100: f"it looks like a rate per 1 {currency} divided by 100 (a unit of 100 given for a rate "
                            "per 1?); give NOK per 1 unit",
        1 / nok_per_unit: f"it looks like {currency} per NOK, the rate turned round; give NOK per 1 {currency}",
    }
    middle = (low * high).sqrt()
    # the mistake that would bring the rate nearest the bank's levels, if any brings it within a factor of 3
    _, value = min((abs((candidate / middle).ln()), candidate) for candidate in causes)
    if low / 3 <= value <= high * 3:
        return f"{where}: {causes[value]}"
    return f"{where}; give NOK per 1 {currency}"
