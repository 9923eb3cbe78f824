"""Companies imported twice: one ERP company reached through two connections.

When two people each connect to the same company (each with their own login,
say), it is imported twice and every group report counts it twice. A company
is taken for the same as another when both carry the same organisation
number, or when both have the same ERP company id under the same ERP: the same
connection type at the same address (option ``base_url``, the type's default
when unset). Only companies of *different* connections are compared: within
one connection an ERP id is a company once. The rule knows nothing of any one
ERP, so it holds for every connection type: ``osr company add``, ``osr status``
and the registry's warning when it loads all use it. A detached company (its
import connection deleted) is imported by nobody and is never a duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry warns of duplicates when it loads, so it imports this module
    from osr_pipelines.registry import Company, Registry

_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class Duplicate:
    """``company`` is also imported as ``other``, for ``reason``."""

    company: Company
    other: Company
    reason: str

    def line(self) -> str:
        return (f"{self.company.key} ({self.company.name}) is the same company as {self.other.key} "
                f"({self.other.name}): {self.reason}; reports would count it twice")


def organisation_number(value: str | None) -> str:
    """The number without blanks, dots or dashes, upper-case, and without a ``NO`` prefix or ``MVA`` suffix
    (``NO 912 345 678 MVA`` is ``912345678``); empty when there is none."""
    plain = _NOT_ALNUM.sub("", value or "").upper()
    core = plain.removeprefix("NO").removesuffix("MVA")
    return core if core.isdigit() else plain


def _addresses(reg: Registry) -> dict[str, tuple[str, str]]:
    """(type, address) of each connection by name."""
    return {c.name: (c.type, (c.options.get("base_url") or "").rstrip("/")) for c in reg.connections}


def duplicates(reg: Registry, companies: Iterable[Company]) -> list[Duplicate]:
    """Every company of ``reg`` that is the same as one of ``companies`` but belongs to another connection.

    The registry's companies are indexed once, by organisation number and by
    ERP company: the registry checks itself on every load, and a pairwise
    comparison would cost a million steps at a thousand companies.
    """
    erps = _addresses(reg)
    by_number: dict[str, list[Company]] = {}
    by_erp: dict[tuple[str, str, str], list[Company]] = {}
    for other in reg.companies:
        if other.detached:
            continue
        if number := organisation_number(other.organization_number):
            by_number.setdefault(number, []).append(other)
        if other.connection in erps:
            by_erp.setdefault((*erps[other.connection], other.erp_id), []).append(other)
    found: list[Duplicate] = []
    for company in companies:
        number = organisation_number(company.organization_number)
        same_number = [o for o in by_number.get(number, []) if o.connection != company.connection] if number else []
        found += [Duplicate(company, o, f"the same organisation number {number}") for o in same_number]
        if company.connection in erps:
            erp = erps[company.connection]
            found += [Duplicate(company, o, f"the same {erp[0]} company id {company.erp_id}")
                      for o in by_erp.get((*erp, company.erp_id), [])
                      if o.connection != company.connection and o not in same_number]
    return found


def every_duplicate(reg: Registry) -> list[Duplicate]:
    """Each pair of the registry's live companies that are the same company, once."""
    pairs: dict[frozenset[str], Duplicate] = {}
    for found in duplicates(reg, (c for c in reg.companies if not c.detached)):
        pairs.setdefault(frozenset((found.company.key, found.other.key)), found)
    return list(pairs.values())
