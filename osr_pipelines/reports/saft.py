"""SAF-T standard accounts and grouping codes: what makes companies from different ERPs comparable.

Norwegian companies map their own chart of accounts to the SAF-T standard
accounts (``StandardAccountID``) and to the RF-1167 / RF-1175 grouping codes.
An account maps to a standard account by its number where that number is one
(charts that follow NS 4102), else to the standard account below it in its
two-digit group (3001 to 3000, 19201 to 1920), else to the group itself. A
grouping code is the account's own number where that is a code, else its
standard account's where that is one, else the code whose NS 4102 range holds
the standard account (:mod:`saft_ranges`: 4300 to 4005, 2710 to 2740).

A company imported from a SAF-T file states its own mapping, kept in the
account's ``account_group`` (``standard:<id>``, ``<category>:<code>``): that
comes before every rule above. The file's grouping code decides its own level;
its standard account decides the standard-account level and, through the code
lists and ranges, the grouping codes. The mapping file (``saft-mapping.yaml``
in the OSR home) still has the last word, over the file's codes too: an
override is a deliberate correction of one account, and a file states a code
for nearly every account, so an override the file could beat would be one
that can never correct a file's wrong code::

    companies:
      acme.1001:
        standard_account: {"3001": "3000"}
        RF-1167: {"2050": "2059"}

What no rule covers (accounts outside 1000-8999, or not numbers) is listed as
unmapped, one account at a time.

The code lists are the Norwegian Tax Administration's (Skatteetaten/saf-t),
shipped in ``saft_codes/`` with their notice: the standard-account list may
only be used for SAF-T mapping, which is what this is. ``OSR_SAFT_CODES``
names a folder of newer lists to use instead.
"""

from __future__ import annotations

import csv
import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from osr_pipelines import settings
from osr_pipelines.reports import saft_ranges
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


#: the code lists shipped with the package, with their source and copyright notice
SHIPPED_CODES = Path(__file__).with_name("saft_codes")
CODE_LISTS = tuple(_FILES)


def codes_folder() -> Path:
    """Where the code lists are read: ``OSR_SAFT_CODES`` if set, else the lists shipped with the package."""
    override = os.environ.get("OSR_SAFT_CODES")
    return Path(override).expanduser() if override else SHIPPED_CODES


def code_list_path(name: str) -> Path:
    """The file of code list ``name`` (one of :data:`CODE_LISTS`: ``2`` and ``4`` for the two- and four-character
    standard accounts, ``RF-1167``, ``RF-1175``), as :func:`codes_folder` decides."""
    if name not in _FILES:
        raise ValueError(f"SAF-T code list '{name}': not one of {', '.join(CODE_LISTS)}")
    return codes_folder() / _FILES[name]


def read_code_list(name: str) -> list[dict[str, str]]:
    """Code list ``name``'s rows, by its own column names (semicolon-separated UTF-8, as published)."""
    return _rows(code_list_path(name))


def mapping_path() -> Path:
    return Path(os.environ.get("OSR_SAFT_MAPPING", settings.osr_home() / "saft-mapping.yaml")).expanduser()


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise ValueError(f"SAF-T code list {path} is missing; point OSR_SAFT_CODES at a folder holding the "
                         "Skatteetaten/saf-t CSV code lists, or unset it to use the lists shipped with osr")
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
        four = {r["AccountID"].strip(): r["DescriptionNOR"] for r in _rows(folder / _FILES["4"])}
        two = {r["AccountID"].strip(): r["DescriptionNOB"].strip() for r in _rows(folder / _FILES["2"])}
        grouping = {level: {r["GroupingCode"].strip(): r["CodeDescriptionNOB"].strip()
                            for r in _rows(folder / _FILES[level])} for level in ("RF-1167", "RF-1175")}
        return cls(four, two, grouping)

    def standard_of(self, account: str) -> str | None:
        """The account's standard account: its own number, else the one below it in its two-digit group
        (a longer number by its first four digits)."""
        if account in self.standard:
            return account
        if not (account.isascii() and account.isdigit() and len(account) >= 4):
            return None
        head = account[:4]
        ordered = self._ordered
        index = bisect_right(ordered, head) - 1
        return ordered[index] if index >= 0 and ordered[index][:2] == head[:2] else None

    def standard_below_in_class(self, account: str) -> str | None:
        """The nearest standard account below the account in its NS 4102 class (5180 to 5099), the last resort
        for a number whose two-digit group has no standard account."""
        if not (account.isascii() and account.isdigit() and len(account) >= 4):
            return None
        ordered = self._ordered
        index = bisect_right(ordered, account[:4]) - 1
        return ordered[index] if index >= 0 and ordered[index][0] == account[0] else None

    def grouping_code(self, level: str, account: str) -> str | None:
        """The account's RF-1167 or RF-1175 code: exact matches first (the account, then its standard
        account), then the NS 4102 ranges; ``None`` where no range covers it."""
        codes = self.grouping[level]
        if account in codes:
            return account
        standard = self.standard_of(account)
        if standard in codes:
            return standard
        number = standard or (account[:4] if account.isascii() and account.isdigit() and len(account) >= 4 else None)
        found = saft_ranges.rf1167_by_range(int(number)) if number else None
        if found is None or level == "RF-1167":
            return found
        counterpart = saft_ranges.rf1175_from_rf1167(found)
        return counterpart if counterpart in codes else None

    @cached_property
    def _ordered(self) -> list[str]:
        return sorted(code for code in self.standard if len(code) == 4 and code.isdigit())


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


def file_codes(group: str | None) -> dict[str, str]:
    """The codes an account's ``account_group`` states, per level: ``standard:1920 RF-1167:1920`` gives
    ``{standard_account: 1920, RF-1167: 1920}``; any other group (an ERP's own) states none."""
    out = {}
    for token in (group or "").split():
        category, _, code = token.partition(":")
        level = STANDARD_ACCOUNT if category == "standard" else category
        if level in LEVELS and code:
            out[level] = code
    return out


@dataclass(frozen=True)
class Mapping:
    """One company's accounts at one level: standard accounts, or RF-1167 / RF-1175 grouping codes."""

    level: str
    lists: CodeLists
    overrides: dict[str, str]
    #: account -> ``account_group`` as imported (a SAF-T file's ``standard:<id> <category>:<code>``)
    stated: dict[str, str] = field(default_factory=dict)

    def code(self, account: str) -> str | None:
        if account in self.overrides:
            return self.overrides[account]
        own = file_codes(self.stated.get(account))
        if self.level in own:
            return own[self.level]
        standard = own.get(STANDARD_ACCOUNT)
        if standard is not None:
            found = standard if self.level == STANDARD_ACCOUNT else self.lists.grouping_code(self.level, standard)
            if found is not None:
                return found
        if self.level != STANDARD_ACCOUNT:
            return self.lists.grouping_code(self.level, account)
        found = self.lists.standard_of(account)
        if found is not None:
            return found
        if len(account) == 4 and account[:2] in self.lists.standard_groups:
            return account[:2]
        return self.lists.standard_below_in_class(account)

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


def mapping(company: str, level: str, lists: CodeLists | None = None, stated: dict[str, str] | None = None
            ) -> Mapping:
    """``company``'s mapping at ``level``; ``stated`` is its accounts' ``account_group`` (:attr:`Ledger.groups
    <osr_pipelines.reports.ledger.Ledger.groups>`), where a SAF-T file's own codes are kept."""
    if level not in LEVELS:
        raise ValueError(f"company '{company}': group by '{level}': not a SAF-T level (one of {', '.join(LEVELS)})")
    return Mapping(level, lists or CodeLists.load(), company_overrides(company).get(level, {}), stated or {})


def groupings(level: str, lists: CodeLists | None = None, stated: dict[str, dict[str, str]] | None = None
              ) -> Callable[[str], Grouping]:
    """Each company's grouping at ``level``, for consolidated reports: companies keep their own overrides and
    their files' codes (``stated``, per company, as :attr:`Consolidation.groups` holds them)."""
    lists = lists or CodeLists.load()
    return lambda company: mapping(company, level, lists, (stated or {}).get(company)).grouping()
