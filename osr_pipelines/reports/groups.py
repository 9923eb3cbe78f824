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
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from osr_pipelines import settings
from osr_pipelines.registry import Registry
from osr_pipelines.reports.consolidation import COUNTERPARTY_COLUMNS, ClientSetup, Eliminations
from osr_pipelines.reports.norges_bank import API, NorgesBank
from osr_pipelines.reports.rates import Rates, rates_from_csv

NORGES_BANK = "norges-bank"

_CLIENT_FIELDS = {"currency", "rates", "rates_url", "eliminate"}
_ELIMINATE_FIELDS = {"counterparty", "accounts", "company"}


def groups_path() -> Path:
    return Path(os.environ.get("OSR_CONSOLIDATION", settings.osr_home() / "consolidation.yaml")).expanduser()


def consolidated_clients(path: Path | None = None) -> list[str]:
    """The clients the group file describes: each is a partition of the consolidated reports."""
    path = path or groups_path()
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or {}
    clients = data.get("clients") if isinstance(data, dict) else None
    return sorted(str(name) for name in clients) if isinstance(clients, dict) else []


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
    """The consolidation of ``client``, or a :class:`ValueError` naming the file, client and field."""
    path = path or groups_path()
    where = f"{path}: client '{client}'"
    if not path.exists():
        raise ValueError(f"{path}: no such file; describe client '{client}' there to consolidate it "
                         "(currency, rates, eliminate)")
    data = yaml.safe_load(path.read_text()) or {}
    entry = (data.get("clients") or {}).get(client) if isinstance(data, dict) else None
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: not described; add it under 'clients' with currency, rates and eliminate")
    problems = [f"field '{key}': unknown (allowed: {', '.join(sorted(_CLIENT_FIELDS))})"
                for key in entry if key not in _CLIENT_FIELDS]
    currency = str(entry.get("currency", ""))
    if len(currency) != 3 or not currency.isalpha():
        problems.append(f"field 'currency': must be a currency code such as NOK, not '{currency}'")
    if not entry.get("rates"):
        problems.append(f"field 'rates': required: {NORGES_BANK}, or a CSV file of currency,period,average,closing")
    eliminate = entry.get("eliminate") or {}
    problems += [f"field 'eliminate.{key}': unknown (allowed: {', '.join(sorted(_ELIMINATE_FIELDS))})"
                 for key in eliminate if key not in _ELIMINATE_FIELDS]
    counterparty = eliminate.get("counterparty")
    if counterparty is not None and counterparty not in COUNTERPARTY_COLUMNS:
        problems.append(f"field 'eliminate.counterparty': '{counterparty}' is not one of "
                        f"{', '.join(COUNTERPARTY_COLUMNS)}")
    members = tuple(co.key for co in registry.companies if co.client == client)
    company = eliminate.get("company")
    if company is not None and company not in members:
        problems.append(f"field 'eliminate.company': '{company}' is not a company of client '{client}' "
                        "in the registry")
    if not members:
        problems.append("no company of the registry belongs to this client")
    if problems:
        raise ValueError(f"{where}:\n" + "\n".join(f"  - {p}" for p in problems))
    rule = Eliminations(tuple(str(a) for a in eliminate.get("accounts") or ()), counterparty, company)
    source = str(entry["rates"])
    return GroupConfig(ClientSetup(client, currency.upper(), members, rule),
                       source if source == NORGES_BANK else str(path.parent / source), str(entry.get("rates_url", API)))
