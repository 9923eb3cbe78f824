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


# -- the statutory layout -----------------------------------------------------------------------
#
# The income statement and balance sheet as regnskapsloven §§ 6-1 and 6-2 set them out, each line
# covering a range of NS 4102 accounts. The ranges follow NS 4102's two-digit account groups as
# Skatteetaten's SAF-T standard-account list (General_Ledger_Standard_Accounts_2_character.csv,
# Skatteetaten/saf-t) names them: class 8 splits into 80 Finansinntekt, 81 Finanskostnad,
# 83 Skattekostnad på ordinært resultat, 84/85 Ekstraordinær inntekt/kostnad, 86 Skattekostnad på
# ekstraordinært resultat, 88 Årsresultat and 89 Overføringer og disponeringer; 82 and 87 are free.
# So interest and other financial items (80, 81) sit above "Resultat før skattekostnad" and tax
# (83, 86) below it; 88-89 (the year-end transfer to equity) come after "Årsresultat", so a ledger
# that books its year-end entry still shows the year's result. § 6-1 has had no extraordinary items
# since 2015 (from memory of the act's history, not checked against Lovdata): 84/85 are kept with
# the financial items, where a chart that still uses them expects them, rather than dropped.


@dataclass(frozen=True)
class StatutoryLine:
    """A line of the statement: the accounts from ``first`` to ``last`` (four digits, inclusive), or,
    with ``result``, every result account (the balance sheet's Årets resultat, inside equity). A ``given``
    line holds a figure no account carries (a consolidation's translation difference), shown only where
    one is given."""

    key: str
    first: str = ""
    last: str = ""
    result: bool = False
    given: bool = False


@dataclass(frozen=True)
class Section:
    """Lines with a sum. ``sign`` turns the ledger's amounts (debit positive) into the statement's: -1
    where the statement shows credits as positive figures (income, equity, liabilities)."""

    key: str
    sign: int
    lines: tuple[StatutoryLine, ...]
    #: shown with its sum even without accounts (the statement's main sections)
    always: bool = False


@dataclass(frozen=True)
class Total:
    """A result or a sum of sections (Driftsresultat, Sum eiendeler), with its own statement sign."""

    key: str
    sign: int
    sections: tuple[str, ...]


@dataclass(frozen=True)
class Heading:
    key: str


Layout = tuple[Section | Total | Heading, ...]
_L = StatutoryLine

INCOME_LAYOUT: Layout = (
    Section("driftsinntekter", -1, (_L("salgsinntekt", "3000", "3599"), _L("annen driftsinntekt", "3600", "3999")),
            always=True),
    Section("driftskostnader", 1, (_L("varekostnad", "4000", "4999"), _L("lonnskostnad", "5000", "5999"),
                                   _L("avskrivning", "6000", "6099"), _L("annen driftskostnad", "6100", "7999")),
            always=True),
    Total("driftsresultat", -1, ("driftsinntekter", "driftskostnader")),
    Section("finansinntekter", -1, (_L("finansinntekt", "8000", "8099"), _L("ekstraordinar inntekt", "8400", "8499"))),
    Section("finanskostnader", 1, (_L("finanskostnad", "8100", "8199"), _L("ekstraordinar kostnad", "8500", "8599"))),
    Total("resultat for skatt", -1, ("driftsinntekter", "driftskostnader", "finansinntekter", "finanskostnader")),
    Section("skattekostnad", 1, (_L("skattekostnad ordinart", "8300", "8399"),
                                 _L("skattekostnad ekstraordinart", "8600", "8699"))),
    Total("arsresultat", -1, ("driftsinntekter", "driftskostnader", "finansinntekter", "finanskostnader",
                              "skattekostnad")),
    Section("overforinger", 1, (_L("overforinger", "8800", "8999"),)),
)

BALANCE_LAYOUT: Layout = (
    Heading("eiendeler"),
    Section("anleggsmidler", 1, (_L("immaterielle", "1000", "1099"), _L("varige driftsmidler", "1100", "1299"),
                                 _L("finansielle anleggsmidler", "1300", "1399")), always=True),
    Section("omlopsmidler", 1, (_L("varer", "1400", "1499"), _L("fordringer", "1500", "1799"),
                                _L("investeringer", "1800", "1899"), _L("bankinnskudd", "1900", "1999")), always=True),
    Total("sum eiendeler", 1, ("anleggsmidler", "omlopsmidler")),
    Heading("egenkapital og gjeld"),
    Section("egenkapital", -1, (_L("innskutt egenkapital", "2000", "2039"), _L("opptjent egenkapital", "2040", "2099"),
                                _L("omregningsdifferanse", given=True), _L("arets resultat", result=True))),
    Section("langsiktig gjeld", -1, (_L("avsetninger", "2100", "2199"), _L("annen langsiktig gjeld", "2200", "2299")),
            always=True),
    Section("kortsiktig gjeld", -1, (_L("kredittinstitusjoner", "2300", "2399"), _L("leverandorgjeld", "2400", "2499"),
                                     _L("betalbar skatt", "2500", "2599"), _L("offentlige avgifter", "2600", "2799"),
                                     _L("utbytte", "2800", "2899"), _L("annen kortsiktig gjeld", "2900", "2999")),
            always=True),
    Total("sum egenkapital og gjeld", -1, ("egenkapital", "langsiktig gjeld", "kortsiktig gjeld")),
)


def statutory_line(number: str, is_balance: bool, layout: Layout) -> tuple[Section, StatutoryLine] | None:
    """The section and line of ``layout`` an account falls on, or ``None`` where the layout has no line for it
    (a number outside NS 4102, or a balance account numbered as a result account)."""
    for item in layout:
        if not isinstance(item, Section):
            continue
        for line in item.lines:
            if line.given:
                continue
            if line.result:
                if not is_balance:
                    return item, line
            elif is_balance == (layout is BALANCE_LAYOUT) and number.isdigit() and \
                    line.first <= number.ljust(4, "0")[:4] <= line.last:
                return item, line
    return None


def account_line(number: str, is_balance: bool, layout: Layout) -> tuple[Section, StatutoryLine] | None:
    """The section and line ``layout`` shows the account under, or ``None`` where it is listed apart, in no total.

    A result account in the balance sheet is listed under no line: its amount is in Årets resultat.
    """
    found = statutory_line(number, is_balance, layout)
    return None if found is None or found[1].result else found


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
