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

from osr_pipelines import settings
from osr_pipelines.reports.accounts import Grouping, Line
from osr_pipelines.yamlfile import quoted, read_yaml, show

STANDARD_ACCOUNT = "standard_account"
LEVELS = (STANDARD_ACCOUNT, "RF-1167", "RF-1175")
_FILES = {
    "2": "General_Ledger_Standard_Accounts_2_character.csv",
    "4": "General_Ledger_Standard_Accounts_4_character.csv",
    "RF-1167": "RF-1167_Grouping_Category_Code.csv",
    "RF-1175": "RF-1175_Grouping_Category_Code.csv",
}
UNMAPPED = Line("~", "Not mapped")
#: a mapping file overrides a few accounts per company; a file far larger is not one
MAX_BYTES = 4 * 1024 * 1024


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


class MappingFileError(ValueError):
    """The mapping file cannot be used; ``problems`` lists each issue, each with its path in the file."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid SAF-T mapping file {path}:\n" + "\n".join(f"  - {p}" for p in problems))


def _code(value: object) -> str | None:
    """An account or a code: text, or a whole number YAML read from ``4000`` unquoted."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return text if isinstance(text, str) and text.strip() and text.isprintable() else None


def company_overrides(company: str, path: Path | None = None) -> dict[str, dict[str, str]]:
    """The mapping file's overrides of one company, per level (empty without a file).

    Read as strictly as the registry: a repeated key or an alias is refused,
    and every wrong shape in the company's entry is named with its path.
    """
    path = path or mapping_path()
    if not path.exists():
        return {}
    try:
        data = read_yaml(path, max_bytes=MAX_BYTES)
    except ValueError as exc:
        raise MappingFileError(path, [str(exc)]) from None
    problems: list[str] = []
    if data is not None and not isinstance(data, dict):
        raise MappingFileError(path, [f"top level: must be a mapping with 'companies', not {show(data)}"])
    companies = (data or {}).get("companies")
    if companies is not None and not isinstance(companies, dict):
        raise MappingFileError(path, [f"companies: must be a mapping of company keys, not {show(companies)}"])
    entry = (companies or {}).get(company)
    where = f"companies.{quoted(company)}"
    if entry is not None and not isinstance(entry, dict):
        raise MappingFileError(path, [f"{where}: must be a mapping of {', '.join(LEVELS)}, not {show(entry)}"])
    out: dict[str, dict[str, str]] = {level: {} for level in LEVELS}
    for level, pairs in (entry or {}).items():
        if level not in LEVELS:
            problems.append(f"{where}: unknown field {quoted(level)} (allowed: {', '.join(LEVELS)})")
        elif pairs is not None and not isinstance(pairs, dict):
            problems.append(f"{where}.{level}: must be a mapping of account to code, not {show(pairs)}")
        else:
            for account, code in (pairs or {}).items():
                key, value = _code(account), _code(code)
                if key is None or value is None:
                    problems.append(f"{where}.{level}.{quoted(account)}: must map an account to a code, such as "
                                    f"\"4000\": \"4005\", not {show(code)}")
                else:
                    out[level][key] = value
    if problems:
        raise MappingFileError(path, problems)
    return out


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
