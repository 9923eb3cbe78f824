"""What stops a report's figures from being used: each named, for the top of the report and the exit code.

A trial balance that does not sum to zero (with the vouchers whose lines do
not balance), a balance sheet whose two sides differ, intercompany amounts
that do not cancel out, accounts the report's lines do not cover, and a
period the data does not reach. ``osr report`` exits non-zero on any of them
unless told ``--allow-warnings``; the report assets fail the same checks.
A note (a month still being booked) is said, but stops nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Engine, func, select

from osr_pipelines.connectors.base import Window
from osr_pipelines.reports.build import Report
from osr_pipelines.reports.consolidation import Consolidation
from osr_pipelines.reports.ledger import cents
from osr_pipelines.reports.numbers import amount
from osr_pipelines.reports.periods import label, shift
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings

#: how many vouchers a warning names; more are counted
MAX_NAMED = 10


def _t(lang: str, nb: str, en: str) -> str:
    return en if lang == "en" else nb


@dataclass(frozen=True)
class Voucher:
    """A voucher whose lines do not sum to zero."""

    number: str
    first_date: date
    total: Decimal


def unbalanced_vouchers(wh: Warehouse, company: str, to_period: int) -> list[Voucher]:
    """The company's vouchers dated up to the end of ``to_period`` whose lines do not sum to zero (the
    warehouse's own query, by voucher and date); asked only when the trial balance is known to be off."""
    after = shift(to_period, 1)
    window = Window(date(1900, 1, 1), date(after // 100, after % 100, 1))
    return [Voucher(number or "", day, cents(total)) for number, day, total in
            wh.unbalanced_vouchers(company, window, limit=MAX_NAMED + 1)]


def trial_balance_off(company: str, months: list[tuple[int, Decimal]], vouchers: list[Voucher] | None,
                      lang: str) -> str:
    """The trial balance sums to something else than zero: by how much, from which month, and the vouchers."""
    first, off = months[0]
    said = _t(lang, f"Saldobalansen for {company} summerer ikke til null: {amount(off, lang)} fra {label(first)}.",
              f"The trial balance of {company} does not sum to zero: {amount(off, lang)} from {label(first)}.")
    if vouchers:
        named = ", ".join(_t(lang, f"bilag {v.number} ({v.first_date.isoformat()}, sum {amount(v.total, lang)})",
                             f"voucher {v.number} ({v.first_date.isoformat()}, total {amount(v.total, lang)})")
                          for v in vouchers[:MAX_NAMED])
        tail = _t(lang, " med flere", " and more") if len(vouchers) > MAX_NAMED else ""
        said += _t(lang, f" Bilag som ikke går i null: {named}{tail}. Rett dem i regnskapssystemet og importer "
                         "på nytt.",
                   f" Vouchers that do not balance: {named}{tail}. Correct them in the ERP and import again.")
    elif vouchers is not None:
        said += _t(lang, " Ingen enkeltbilag er i ubalanse: sjekk at hele perioden er importert.",
                   " No single voucher is off: check that the whole period was imported.")
    return said


def balance_sheet_off(company: str, difference: list[Decimal], columns: tuple[str, ...], lang: str) -> str:
    parts = ", ".join(f"{c}: {amount(d, lang)}" for c, d in zip(columns, difference, strict=True) if d)
    return _t(lang, f"Balansen for {company} går ikke opp: Sum eiendeler og Sum egenkapital og gjeld skiller seg "
                    f"med {parts}.",
              f"The balance sheet of {company} does not balance: Total assets and Total equity and liabilities "
              f"differ by {parts}.")


def unmapped_accounts(company: str, accounts: list[tuple[str, str]], where: str, lang: str) -> str:
    named = ", ".join(f"{a} {n}".strip() for a, n in accounts[:MAX_NAMED])
    more = len(accounts) - MAX_NAMED
    tail = _t(lang, f" og {more} til", f" and {more} more") if more > 0 else ""
    return _t(lang, f"{len(accounts)} konto(er) i {company} har ingen linje i {where}: {named}{tail}; beløpene "
                    "står under «Kontoer uten linje» og er ikke med i summene.",
              f"{len(accounts)} account(s) of {company} have no line in {where}: {named}{tail}; their amounts "
              "are listed apart and counted in no total.")


def intercompany_mismatch(company: str, counterpart: str, kind: str, difference: Decimal, currency: str,
                          lang: str) -> str:
    what = _t(lang, "saldo" if kind == "balance" else "resultat", kind)
    if counterpart == "*":
        return _t(lang, f"Konserninterne beløp ({what}) i {company} går ikke i null mot de andre selskapene: "
                        f"{amount(difference, lang)} {currency}.",
                  f"Intercompany amounts ({what}) of {company} do not cancel out against the other companies: "
                  f"{amount(difference, lang)} {currency}.")
    return _t(lang, f"Konserninterne beløp ({what}) mellom {company} og {counterpart} stemmer ikke: differanse "
                    f"{amount(difference, lang)} {currency}.",
              f"Intercompany amounts ({what}) between {company} and {counterpart} do not match: difference "
              f"{amount(difference, lang)} {currency}.")


def consolidation_off(client: str, total: Decimal, currency: str, lang: str) -> str:
    return _t(lang, f"Den konsoliderte saldobalansen for {client} summerer til {amount(total, lang)} {currency}, "
                    "ikke null, etter elimineringer.",
              f"The consolidated trial balance of {client} sums to {amount(total, lang)} {currency}, not zero, "
              "after eliminations.")


def outside_data(company: str, period: int, covered: tuple[int, int] | None, lang: str) -> str | None:
    """A period the company's postings do not reach, or ``None`` where they do."""
    if covered is None:
        return _t(lang, f"{company} har ingen posteringer i lageret; importer selskapet først.",
                  f"{company} has no postings in the warehouse; import it first.")
    first, last = covered
    if first <= period <= last:
        return None
    return _t(lang, f"{company} har ingen posteringer i {label(period)}: dataene dekker {label(first)} til "
                    f"{label(last)}. Velg en måned i det tidsrommet.",
              f"{company} has no postings in {label(period)}: the data covers {label(first)} to {label(last)}. "
              "Choose a month in that range.")


def last_voucher_date(engine: Engine, company: str, period: int) -> date | None:
    g = gl_postings.c
    with engine.connect() as conn:
        return conn.execute(select(func.max(g.voucher_date)).where(g.company == company,
                                                                  g.period == period)).scalar()


def partly_booked(period: int, today: date, booked_to: date | None, lang: str) -> str | None:
    """The note for a default period that is the current month: it is only partly booked."""
    if period != today.year * 100 + today.month:
        return None
    until = booked_to.isoformat() if booked_to else today.isoformat()
    last = label(shift(period, -12))
    return _t(lang, f"{label(period)} er inneværende måned og bare delvis bokført (bilag til og med {until}); "
                    f"den sammenlignes med hele {last}. Velg --period for en avsluttet måned.",
              f"{label(period)} is the current month and only partly booked (vouchers up to {until}); it is "
              f"compared with the whole of {last}. Name a --period for a closed month.")


def for_report(report: Report, who: str, vouchers: list[Voucher] | None) -> list[str]:
    """A company report's warnings: its trial balance, its balance sheet's sides, its unmapped accounts."""
    lang, out = report.lang, []
    off = [(d.period, d.found) for d in report.unbalanced if d.period <= report.period]
    if off:
        out.append(trial_balance_off(who, off, vouchers, lang))
    if report.balance_difference:
        out.append(balance_sheet_off(who, report.balance_difference, report.tables[0].columns[2:], lang))
    if report.unmapped and report.kind != "trial-balance":
        where = statutory_layout(lang) if report.group_by == "ns4102" else report.group_by
        out.append(unmapped_accounts(who, [(a, report.trial_balance.name(a)) for a in report.unmapped], where, lang))
    return out


def statutory_layout(lang: str) -> str:
    return _t(lang, "oppstillingen etter regnskapsloven §§ 6-1 og 6-2", "the statutory layout")


def off_the_consolidated_lines(group: Consolidation, off: dict[str, list[str]], names: dict[str, str],
                               lang: str) -> list[str]:
    """A warning per company of ``off`` (:func:`consolidation.off_the_lines`): accounts a consolidated statement
    lists apart."""
    return [unmapped_accounts(names.get(company, company), [(a, group.names.get(a, "")) for a in accounts],
                              statutory_layout(lang), lang)
            for company, accounts in off.items()]


def for_consolidation(group: Consolidation, names: dict[str, str], lang: str) -> list[str]:
    """A consolidation's warnings: a consolidated trial balance off zero, and each intercompany mismatch."""
    out = []
    off = group.unbalanced()
    if off:
        out.append(consolidation_off(group.client, off, group.currency, lang))
    out.extend(intercompany_mismatch(names.get(m.company, m.company), names.get(m.counterpart, m.counterpart),
                                     m.kind, m.difference, group.currency, lang) for m in group.mismatches)
    return out
