"""Which clients are consolidated, and how: the group file, ``consolidation.yaml`` in the OSR home.

A client's companies come from the registry (every company linked to the
client); this file adds what only group reporting needs: the presentation
currency, where rates come from, and how intercompany amounts are found::

    clients:
      Acme Group:
        currency: NOK
        rates: norges-bank            # or a CSV file, relative to this file (the fallback)
        eliminate:
          counterparty: free_dimension_1
          accounts: ["1560", "2460", "3050", "4050"]
          company: acme.elim          # a company whose postings are the eliminations
        equity:                       # foreign companies' paid-in equity at historical rates
          acme.se:
            acquired: {period: 2019-06, rate: 1.05}        # NOK per 1 SEK when it was acquired
            transactions: [{period: 2023-03, rate: 0.98}]  # each later share issue, at its rate

The file decides what a group's figures are, so it is read as strictly as the
registry: every field typed, every problem reported at once with its path in
the file, repeated keys and aliases refused. A lenient reading gave wrong
totals without a word: ``accounts: '1500'`` was read as the accounts '1', '5',
'0', '0', and a client described twice was taken from its last description.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from osr_pipelines import settings
from osr_pipelines.registry import Registry
from osr_pipelines.reports.consolidation import COUNTERPARTY_COLUMNS, ClientSetup, Eliminations, EquityRates
from osr_pipelines.reports.norges_bank import API, NorgesBank
from osr_pipelines.reports.periods import PeriodError, label, parse_period
from osr_pipelines.reports.rates import RATE_TEXT, Rates, rates_from_csv
from osr_pipelines.yamlfile import quoted, read_yaml, show

NORGES_BANK = "norges-bank"
#: a group file describes tens of clients in a few kilobytes; anything far larger is not one
MAX_BYTES = 1024 * 1024

_CLIENT_FIELDS = ("currency", "rates", "rates_url", "eliminate", "equity")
_EQUITY_FIELDS = ("acquired", "transactions")
_RATE_FIELDS = ("period", "rate")
_ELIMINATE_FIELDS = ("counterparty", "accounts", "company")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
#: an account number as charts write it: no blanks, no control characters
_ACCOUNT = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,19}")


class GroupFileError(ValueError):
    """The group file cannot be used; ``problems`` lists each issue found, each with its path in the file."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid group file {path}:\n" + "\n".join(f"  - {p}" for p in problems))


def groups_path() -> Path:
    return Path(os.environ.get("OSR_CONSOLIDATION", settings.osr_home() / "consolidation.yaml")).expanduser()


@dataclass(frozen=True)
class ClientEntry:
    """One client as the group file describes it; a field that could not be read is left empty (its problem
    is listed, and a file with problems is never used), so the checks against the registry still run."""

    currency: str
    rates: str
    rates_url: str
    eliminate: Eliminations
    equity: dict[str, EquityRates] = field(default_factory=dict)


def _text(value: object, where: str, problems: list[str], expects: str) -> str | None:
    if isinstance(value, str) and value.strip() and value.isprintable():
        return value
    problems.append(f"{where}: must be {expects}, not {show(value)}")
    return None


def _unknown(raw: dict, allowed: tuple[str, ...], where: str, problems: list[str]) -> None:
    problems.extend(f"{where}: unknown field {quoted(key)} (allowed: {', '.join(sorted(allowed))})"
                    for key in raw if key not in allowed)


def _accounts(raw: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        what = f"the text {show(raw)}" if isinstance(raw, str) else show(raw)
        problems.append(f"{where}: must be a list of account numbers such as [\"1560\", \"2460\"], not {what}")
        return ()
    out = []
    for i, item in enumerate(raw):
        number = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        if isinstance(number, str) and _ACCOUNT.fullmatch(number):
            out.append(number)
        else:
            problems.append(f"{where}[{i}]: must be an account number such as \"1560\", not {show(item)}")
    return tuple(out)


def _eliminate(raw: object, where: str, problems: list[str]) -> Eliminations:
    if raw is None:
        return Eliminations()
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of counterparty, accounts and company, not {show(raw)}")
        return Eliminations()
    _unknown(raw, _ELIMINATE_FIELDS, where, problems)
    counterparty = raw.get("counterparty")
    if counterparty is not None and counterparty not in COUNTERPARTY_COLUMNS:
        problems.append(f"{where}.counterparty: {show(counterparty)} is not one of {', '.join(COUNTERPARTY_COLUMNS)}")
        counterparty = None
    accounts = _accounts(raw.get("accounts"), f"{where}.accounts", problems)
    company = raw.get("company")
    if company is not None:
        company = _text(company, f"{where}.company", problems, "a company key such as acme.elim")
    return Eliminations(accounts, counterparty, company)


def _dated_rate(raw: object, where: str, problems: list[str]) -> tuple[int, Decimal] | None:
    """``{period: YYYY-MM, rate: 1.05}`` as ``(YYYYMM, rate)``."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping such as {{period: 2024-06, rate: 1.05}}, not {show(raw)}")
        return None
    _unknown(raw, _RATE_FIELDS, where, problems)
    period, rate = raw.get("period"), raw.get("rate")
    try:
        month = parse_period(period) if isinstance(period, str) else None
    except PeriodError:
        month = None
    if month is None:
        problems.append(f"{where}.period: must be a month written YYYY-MM, such as 2024-06, not {show(period)}")
    text = str(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else rate
    value = Decimal(text) if isinstance(text, str) and RATE_TEXT.fullmatch(text) else None
    if not value:
        problems.append(f"{where}.rate: must be a positive number such as 1.05 (units of the client's currency per "
                        f"1 unit of the company's), not {show(rate)}")
    return (month, value) if month is not None and value else None


def _equity(raw: object, where: str, problems: list[str]) -> dict[str, EquityRates]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of company keys to their acquisition and equity transactions, "
                        f"not {show(raw)}")
        return {}
    out = {}
    for company, entry in raw.items():
        at = f"{where}.{quoted(company)}"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be a mapping of {', '.join(_EQUITY_FIELDS)}, not {show(entry)}")
            continue
        _unknown(entry, _EQUITY_FIELDS, at, problems)
        acquired = None
        if entry.get("acquired") is None:
            problems.append(f"{at}.acquired: required: the month and rate of the acquisition, such as "
                            "{period: 2024-06, rate: 1.05}")
        else:
            acquired = _dated_rate(entry["acquired"], f"{at}.acquired", problems)
        raw_transactions = entry.get("transactions") or []
        if not isinstance(raw_transactions, list):
            problems.append(f"{at}.transactions: must be a list such as [{{period: 2024-06, rate: 1.05}}], not "
                            f"{show(raw_transactions)}")
            raw_transactions = []
        transactions: dict[int, Decimal] = {}
        first: dict[int, int] = {}
        for i, item in enumerate(raw_transactions):
            found = _dated_rate(item, f"{at}.transactions[{i}]", problems)
            if found is None:
                continue
            month, rate = found
            if acquired is not None and month <= acquired[0]:
                problems.append(f"{at}.transactions[{i}].period: {label(month)} is not after the acquisition in "
                                f"{label(acquired[0])}; the acquisition rate covers it")
            elif month in first:
                problems.append(f"{at}.transactions[{i}].period: {label(month)} is also transactions[{first[month]}]; "
                                "keep one")
            else:
                first[month] = i
                transactions[month] = rate
        if acquired is not None and isinstance(company, str):
            out[company] = EquityRates(acquired[0], acquired[1], transactions)
    return out


def _client(raw: object, where: str, problems: list[str]) -> ClientEntry:
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of {', '.join(_CLIENT_FIELDS)}, not {show(raw)}")
        return ClientEntry("", "", "", Eliminations())
    _unknown(raw, _CLIENT_FIELDS, where, problems)
    currency = raw.get("currency")
    if not (isinstance(currency, str) and _CURRENCY.fullmatch(currency)):
        problems.append(f"{where}.currency: must be a currency code such as NOK, not {show(currency)}")
        currency = None
    rates = raw.get("rates")
    if rates is None:
        problems.append(f"{where}.rates: required: {NORGES_BANK}, or a CSV file of currency,period,average,closing")
    else:
        rates = _text(rates, f"{where}.rates", problems, f"{NORGES_BANK} or the name of a CSV file")
    rates_url = raw.get("rates_url", API)
    if not (isinstance(rates_url, str) and re.fullmatch(r"https?://[^\s]+", rates_url)):
        problems.append(f"{where}.rates_url: must be an http(s) URL, not {show(rates_url)}")
        rates_url = None
    return ClientEntry((currency or "").upper(), rates or "", rates_url or "",
                       _eliminate(raw.get("eliminate"), f"{where}.eliminate", problems),
                       _equity(raw.get("equity"), f"{where}.equity", problems))


def _clients(data: object, problems: list[str]) -> dict[str, ClientEntry]:
    """The file's clients by name, as far as they can be read; what cannot is added to ``problems``."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(f"top level: must be a mapping with 'clients', not {show(data)}")
        return {}
    _unknown(data, ("clients",), "top level", problems)
    raw = data.get("clients")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(f"clients: must be a mapping of client names to their descriptions, not {show(raw)}")
        return {}
    out: dict[str, ClientEntry] = {}
    for name, entry in raw.items():
        if isinstance(name, int | float | bool):
            problems.append(f"clients: key {show(name)}: a client's name is text; write it in quotes")
            continue
        if not (isinstance(name, str) and name.strip() and name.isprintable()):
            problems.append(f"clients: key {show(name)}: must be a client's name as the registry writes it")
            continue
        out[name] = _client(entry, f"clients.{quoted(name)}", problems)
    return out


def _parsed(path: Path) -> object:
    try:
        return read_yaml(path, max_bytes=MAX_BYTES)
    except ValueError as exc:
        raise GroupFileError(path, [str(exc)]) from None


def consolidated_clients(path: Path | None = None) -> list[str]:
    """The clients the group file names: each is a partition of the consolidated reports.

    Only the file's syntax is checked here: a mistake in one client's
    description fails that client's reports, with every problem listed,
    rather than removing every client's partition.
    """
    path = path or groups_path()
    if not path.exists():
        return []
    data = _parsed(path)
    clients = data.get("clients") if isinstance(data, dict) else None
    return sorted(name for name in clients if isinstance(name, str)) if isinstance(clients, dict) else []


@dataclass(frozen=True)
class GroupConfig:
    setup: ClientSetup
    #: ``norges-bank`` or a CSV file
    rates_source: str
    rates_url: str = API

    def rates(self) -> Rates:
        if self.rates_source == NORGES_BANK:
            return NorgesBank(self.rates_url).rates()
        return rates_from_csv(Path(self.rates_source))


def client_setup(registry: Registry, client: str, path: Path | None = None) -> GroupConfig:
    """The consolidation of ``client``, or a :class:`GroupFileError` naming the file and each problem's path."""
    path = path or groups_path()
    if not path.exists():
        raise GroupFileError(path, [f"file does not exist; describe client {quoted(client)} there to consolidate it "
                                    "(currency, rates, eliminate)"])
    problems: list[str] = []
    entry = _clients(_parsed(path), problems).get(client)
    where = f"clients.{quoted(client)}"
    if entry is None:  # when the file has problems, the client may be in a part that could not be read
        raise GroupFileError(path, problems or [f"{where}: not described; add it under 'clients' with currency, "
                                                "rates and eliminate"])
    members = tuple(co.key for co in registry.companies if co.client == client)
    if not members:
        problems.append(f"{where}: no company of the registry belongs to this client")
    rule = entry.eliminate
    if rule.company is not None and rule.company not in members:
        problems.append(f"{where}.eliminate.company: {quoted(rule.company)} is not a company of client "
                        f"{quoted(client)} in the registry")
    problems.extend(f"{where}.equity: {quoted(company)} is not a company of client {quoted(client)} in the registry"
                    for company in entry.equity if company not in members)
    if problems:
        raise GroupFileError(path, problems)
    source = entry.rates if entry.rates == NORGES_BANK else str(path.parent / entry.rates)
    return GroupConfig(ClientSetup(client, entry.currency, members, rule, entry.equity, f"{path}: {where}"),
                       source, entry.rates_url)
