"""SAF-T standard accounts and grouping codes: what makes companies from different ERPs comparable.

Norwegian companies map their own chart of accounts to the SAF-T standard
accounts (``StandardAccountID``) and to the RF-1167 / RF-1175 grouping codes.
An account maps by its number where that number is itself a code of the list
(charts that follow NS 4102); a standard account falls back to its two-digit
group. Everything else is listed as unmapped, for the user to map in the
mapping file (``saft-mapping.yaml`` in the OSR home)::

    companies:
      acme.1001:
        standard_account: {"3001": "3000"}
        RF-1167: {"2050": "2059"}

The code lists are the Norwegian Tax Administration's (Skatteetaten/saf-t),
read from the folder ``OSR_SAFT_CODES`` names; the standard-account list may
only be used for SAF-T mapping, which is what this is.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from osr_pipelines import settings
from osr_pipelines.reports.accounts import Grouping, Line

STANDARD_ACCOUNT = "standard_account"
LEVELS = (STANDARD_ACCOUNT, "RF-1167", "RF-1175")
_FILES = {
    "2": "General_Ledger_Standard_Accounts_2_character.csv",
    "4": "General_Ledger_Standard_Accounts_4_character.csv",
    "RF-1167": "RF-1167_Grouping_Category_Code.csv",
    "RF-1175": "RF-1175_Grouping_Category_Code.csv",
}
UNMAPPED = Line("~", "Not mapped")


def codes_folder() -> Path:
    return Path(os.environ.get("OSR_SAFT_CODES", settings.osr_home() / "saf-t")).expanduser()


def mapping_path() -> Path:
    return Path(os.environ.get("OSR_SAFT_MAPPING", settings.osr_home() / "saft-mapping.yaml")).expanduser()


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise ValueError(f"SAF-T code list {path} is missing; point OSR_SAFT_CODES at a folder holding the "
                         "Skatteetaten/saf-t CSV code lists")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@dataclass(frozen=True)
class CodeLists:
    """Code -> Norwegian name, per level; standard accounts keep their two-digit groups apart."""

    standard: dict[str, str]
    standard_groups: dict[str, str]
    grouping: dict[str, dict[str, str]]

    @classmethod
    def load(cls, folder: Path | None = None) -> CodeLists:
        folder = folder or codes_folder()
        four = {r["AccountID"]: r["DescriptionNOR"] for r in _rows(folder / _FILES["4"])}
        two = {r["AccountID"]: r["DescriptionNOB"].strip() for r in _rows(folder / _FILES["2"])}
        grouping = {level: {r["GroupingCode"]: r["CodeDescriptionNOB"] for r in _rows(folder / _FILES[level])}
                    for level in ("RF-1167", "RF-1175")}
        return cls(four, two, grouping)


def company_overrides(company: str, path: Path | None = None) -> dict[str, dict[str, str]]:
    """The mapping file's overrides of one company, per level (empty without a file)."""
    path = path or mapping_path()
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    entry = ((data.get("companies") or {}) if isinstance(data, dict) else {}).get(company) or {}
    unknown = [key for key in entry if key not in LEVELS]
    if unknown:
        raise ValueError(f"{path}: company '{company}': field '{unknown[0]}': unknown (allowed: {', '.join(LEVELS)})")
    return {level: {str(k): str(v) for k, v in (entry.get(level) or {}).items()} for level in LEVELS}


@dataclass(frozen=True)
class Mapping:
    """One company's accounts at one level: standard accounts, or RF-1167 / RF-1175 grouping codes."""

    level: str
    lists: CodeLists
    overrides: dict[str, str]

    def code(self, account: str) -> str | None:
        if account in self.overrides:
            return self.overrides[account]
        if self.level != STANDARD_ACCOUNT:
            return account if account in self.lists.grouping[self.level] else None
        if account in self.lists.standard:
            return account
        return account[:2] if len(account) == 4 and account[:2] in self.lists.standard_groups else None

    def name(self, code: str) -> str:
        if self.level != STANDARD_ACCOUNT:
            return self.lists.grouping[self.level].get(code, "")
        return self.lists.standard.get(code) or self.lists.standard_groups.get(code, "")

    def grouping(self) -> Grouping:
        def line(account: str) -> Line:
            code = self.code(account)
            return UNMAPPED if code is None else Line(code, self.name(code))

        return line

    def unmapped(self, accounts: set[str]) -> list[str]:
        return sorted(a for a in accounts if self.code(a) is None)


def mapping(company: str, level: str, lists: CodeLists | None = None) -> Mapping:
    if level not in LEVELS:
        raise ValueError(f"company '{company}': group by '{level}': not a SAF-T level (one of {', '.join(LEVELS)})")
    return Mapping(level, lists or CodeLists.load(), company_overrides(company).get(level, {}))


def groupings(level: str, lists: CodeLists | None = None) -> Callable[[str], Grouping]:
    """Each company's grouping at ``level``, for consolidated reports: companies keep their own overrides."""
    lists = lists or CodeLists.load()
    return lambda company: mapping(company, level, lists).grouping()
