"""Which accounts are balance-sheet accounts, and which report line an account falls under.

The ``accounts`` dimension says ``balance`` or ``income`` where the ERP told us;
where it did not (an account missing from the dimension, or a type left empty),
the Norwegian standard chart NS 4102 decides: classes 1 and 2 are the balance
sheet, 3 to 8 the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: NS 4102 account classes (the first digit of the account number).
NS4102_CLASSES: dict[str, str] = {
    "1": "Eiendeler",
    "2": "Egenkapital og gjeld",
    "3": "Salgs- og driftsinntekt",
    "4": "Varekostnad",
    "5": "Lønnskostnad",
    "6": "Avskrivning og annen driftskostnad",
    "7": "Annen driftskostnad",
    "8": "Finansposter og skatt",
}

#: The balance sheet's NS 4102 sections, by the account number's first two digits.
NS4102_BALANCE_SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("10", "13", "A", "Anleggsmidler"),
    ("14", "19", "B", "Omløpsmidler"),
    ("20", "20", "C", "Egenkapital"),
    ("21", "22", "D", "Langsiktig gjeld og avsetninger"),
    ("23", "29", "E", "Kortsiktig gjeld"),
)

#: Where a year's result is carried at the year end (NS 4102 2050 Annen egenkapital).
RETAINED_EARNINGS = "2050"


@dataclass(frozen=True)
class Account:
    number: str
    name: str
    is_balance: bool


@dataclass(frozen=True)
class Line:
    """A report line: a sort key and the text a reader sees."""

    code: str
    name: str


Grouping = Callable[[str], Line]


def is_balance_account(number: str, account_type: str | None) -> bool:
    if account_type == "balance":
        return True
    if account_type == "income":
        return False
    return number[:1] in ("1", "2")


def ns4102_class(number: str) -> Line:
    """The income statement's default line: the NS 4102 class of the account."""
    digit = number[:1]
    return Line(digit, NS4102_CLASSES.get(digit, "Andre kontoer"))


def ns4102_balance_section(number: str) -> Line:
    """The balance sheet's default line: the NS 4102 section of the account."""
    head = number[:2]
    for first, last, code, name in NS4102_BALANCE_SECTIONS:
        if first <= head <= last:
            return Line(code, name)
    return Line("Z", "Andre kontoer")


def chart(known: dict[str, tuple[str | None, str | None]], numbers: set[str]) -> dict[str, Account]:
    """Accounts for every number in the books, typed by the dimension or by NS 4102."""
    out = {}
    for number in numbers | set(known):
        name, account_type = known.get(number, (None, None))
        out[number] = Account(number, name or "", is_balance_account(number, account_type))
    return out
