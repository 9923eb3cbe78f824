"""Group reporting: a client's companies translated into one currency, intercompany amounts eliminated.

Every part is a ledger of account totals, so one trial-balance walk serves
all: each company's own ledger, and per company the amounts to eliminate (its
ledger on the designated intercompany accounts, and its postings whose
counterparty dimension names another company of the client, both with the
sign turned), and an elimination company's ledger as it stands. Each part is
translated with its company's rates: results at each month's average rate,
balances at the month's closing rate, and the difference to a translation line
in equity. Eliminated amounts stay visible in their own column.

A foreign company's equity is translated at historical rates (NRS / IAS 21):
paid-in equity (NS 4102 2000-2039) at the rate of its acquisition, or of each
later equity transaction, as the group file declares them; earned equity as the
accumulated results, each month's at that month's average rate (so a year's
result is retained at the figure the group reported for it), and up to the
acquisition at its rate. The translation difference stays the residual, and so
accumulates over the years instead of hiding in equity. Only months a company
has postings in need rates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, case, func, or_, select

from osr_pipelines.reports import ledger
from osr_pipelines.reports.accounts import BALANCE_LAYOUT, INCOME_LAYOUT, Grouping, Line, account_line
from osr_pipelines.reports.build import ledger_range, ledger_signs
from osr_pipelines.reports.language import text
from osr_pipelines.reports.ledger import CENT, Ledger
from osr_pipelines.reports.periods import january, label, months_between, shift
from osr_pipelines.reports.rates import Rates
from osr_pipelines.reports.statements import YEAR_RESULT
from osr_pipelines.reports.tables import Row, Table, statutory_table
from osr_pipelines.reports.trial_balance import ZERO, TrialBalance, trial_balance
from osr_pipelines.warehouse.schema import gl_postings
from osr_pipelines.yamlfile import quoted

TRANSLATION = Line("C8", "Omregningsdifferanse")
#: the statutory balance sheet's line for the translation difference, inside Egenkapital
TRANSLATION_KEY = "omregningsdifferanse"
#: posting columns that may hold the counterparty company of an intercompany posting
COUNTERPARTY_COLUMNS = ("customer", "supplier", "department", "project",
                        "free_dimension_1", "free_dimension_2", "free_dimension_3")


@dataclass(frozen=True)
class Eliminations:
    """How a client's intercompany amounts are found; any of the three methods, or several."""

    #: accounts that only carry intercompany amounts, eliminated whole
    accounts: tuple[str, ...] = ()
    #: a posting column naming the counterparty company by its key
    counterparty: str | None = None
    #: a company whose postings are the eliminations
    company: str | None = None


@dataclass(frozen=True)
class EquityRates:
    """A foreign subsidiary's paid-in equity rates (units of the client's currency per unit of the company's):
    its acquisition's, which covers every month up to it, and each later equity transaction's, by month."""

    acquired: int
    rate: Decimal
    transactions: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientSetup:
    client: str
    currency: str
    companies: tuple[str, ...]
    eliminations: Eliminations = field(default_factory=Eliminations)
    #: per foreign company, the historical rates of its paid-in equity
    equity: dict[str, EquityRates] = field(default_factory=dict)
    #: where the setup is described, for messages: the group file and the client's entry in it
    described_in: str = ""


@dataclass
class Translated:
    """One ledger in the presentation currency at a period: what the consolidated reports add up."""

    #: result accounts: the year to date, each month at its average rate (ledger sign)
    ytd: dict[str, Decimal] = field(default_factory=dict)
    #: balance accounts: the closing balance at the closing rate (ledger sign)
    closing: dict[str, Decimal] = field(default_factory=dict)
    #: what makes the translated ledger sum to zero again (kept only for whole companies)
    difference: Decimal = ZERO
    #: result accounts per month, this year's and last year's, each at its month's average rate
    months: dict[int, dict[str, Decimal]] = field(default_factory=dict)

    def total(self) -> Decimal:
        return sum(self.ytd.values(), ZERO) + sum(self.closing.values(), ZERO) + self.difference

    def results(self, months: list[int]) -> dict[str, Decimal]:
        """The result accounts over ``months`` (this year's or last year's)."""
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for month in months:
            for account, value in self.months.get(month, {}).items():
                out[account] += value
        return dict(out)


def translate(tb: TrialBalance, rates: Rates, presentation: str, period: int, *, whole: bool,
              equity: dict[str, Decimal] | None = None) -> Translated:
    """``tb`` at ``period`` in ``presentation``; ``equity`` replaces the equity accounts' closing balances
    with their historical translation. A month without movements asks no rate."""
    out = Translated()
    this_year = january(period)
    for month in months_between(january(shift(period, -12)), period):
        if month not in tb.periods or this_year > month > shift(period, -12):
            continue  # last year's months after its comparison month are in no column
        moved = [row for row in tb.of(month) if not tb.accounts[row.account].is_balance and row.movement]
        if moved:
            rate = rates.average(tb.currency, presentation, month)
            out.months[month] = {row.account: (row.movement * rate).quantize(CENT) for row in moved}
    for month in months_between(this_year, period):
        for account, value in out.months.get(month, {}).items():
            out.ytd[account] = out.ytd.get(account, ZERO) + value
    held = [row for row in tb.of(period) if tb.accounts[row.account].is_balance and row.closing
            and (equity is None or not is_equity(row.account))]
    if held:
        rate = rates.closing(tb.currency, presentation, period)
        out.closing = {row.account: (row.closing * rate).quantize(CENT) for row in held}
    out.closing.update({account: value for account, value in (equity or {}).items() if value})
    if whole:
        out.difference = -out.total()
    return out


def is_equity(account: str) -> bool:
    """NS 4102 class 20, Egenkapital."""
    return account.startswith("20")


def is_paid_in(account: str) -> bool:
    """NS 4102 2000-2039: share capital, own shares, share premium, other paid-in equity."""
    return is_equity(account) and account[:4] < "2040"


def equity_history(engine: Engine, company: str, period: int) -> list[tuple[str, int, Decimal]]:
    """Per account and month up to ``period``: the equity accounts' movements and the earlier years' results
    (with the balance accounts of those years, which the caller leaves out): one grouped query."""
    g = gl_postings.c
    query = (select(g.account, g.period, func.sum(g.amount))
             .where(g.company == company, g.period <= period, or_(g.account.like("20%"), g.period < january(period)))
             .group_by(g.account, g.period))
    with engine.connect() as conn:
        return [(account, int(month), ledger.cents(amount)) for account, month, amount in conn.execute(query)]


def historical_equity(tb: TrialBalance, history: list[tuple[str, int, Decimal]], rates: Rates, setup: ClientSetup,
                      period: int) -> dict[str, Decimal]:
    """The company's equity accounts at ``period`` at historical rates; earlier years' results are retained
    on the trial balance's retained-earnings account, as the trial balance carries them."""
    declared = setup.equity.get(tb.company)
    where = setup.described_in or f"client {quoted(setup.client)}"
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for account, month, amount in sorted(history, key=lambda row: (row[1], row[0])):
        known = tb.accounts.get(account)
        balance = known.is_balance if known else account[:1] in ("1", "2")
        if (balance and not is_equity(account)) or not amount:
            continue
        if declared is not None and month <= declared.acquired:
            rate = declared.rate
        elif balance and is_paid_in(account):
            if declared is None:
                raise ValueError(
                    f"{where}: company {quoted(tb.company)} keeps its books in {tb.currency} and has paid-in equity "
                    f"(account {account}), which is translated at the rate of its acquisition; declare it under "
                    f"equity: {{{tb.company}: {{acquired: {{period: YYYY-MM, rate: <{setup.currency} per 1 "
                    f"{tb.currency}>}}}}}}")
            if month not in declared.transactions:
                raise ValueError(
                    f"{where}.equity.{quoted(tb.company)}: company {quoted(tb.company)} ({tb.currency}) moved its "
                    f"paid-in equity in {label(month)} (account {account}), after its acquisition in "
                    f"{label(declared.acquired)}, and no rate is declared for that month; add {{period: "
                    f"{label(month)}, rate: <{setup.currency} per 1 {tb.currency} on that day>}} to its transactions")
            rate = declared.transactions[month]
        else:
            rate = rates.average(tb.currency, setup.currency, month)
        out[account if balance else tb.retained_earnings] += (amount * rate).quantize(CENT)
    return dict(out)


def _turned(rows: list[tuple]) -> list[tuple]:
    return [(a, p, c, d) for a, p, d, c in rows]


def counterparty_balances(engine: Engine, company: str, column: str, counterparts: list[str],
                          from_period: int, to_period: int) -> dict[str, list[tuple]]:
    """Per counterparty, the company's totals on postings naming it: one grouped query."""
    if column not in COUNTERPARTY_COLUMNS:
        raise ValueError(f"consolidation: field 'counterparty': '{column}' is not a posting column that can name a "
                         f"company (one of {', '.join(COUNTERPARTY_COLUMNS)})")
    g = gl_postings.c
    other = g[column]
    bucket = case((g.period < from_period, (g.period // 100) * 100), else_=g.period)
    query = (select(other, g.account, bucket,
                    func.sum(case((g.amount > 0, g.amount), else_=0)),
                    func.sum(case((g.amount < 0, -g.amount), else_=0)))
             .where(g.company == company, g.period <= to_period, other.in_(counterparts))
             .group_by(other, g.account, bucket))
    out: dict[str, list[tuple]] = defaultdict(list)
    with engine.connect() as conn:
        for counterpart, account, period, debit, credit in conn.execute(query):
            out[counterpart].append((account, period, debit, credit))
    return out


@dataclass(frozen=True)
class Mismatch:
    """Intercompany amounts of two companies that do not cancel out (``*``: against all others)."""

    company: str
    counterpart: str
    #: ``balance`` (closing balances) or ``result`` (year to date)
    kind: str
    amount: Decimal
    counter_amount: Decimal

    @property
    def difference(self) -> Decimal:
        return self.amount + self.counter_amount


@dataclass
class Consolidation:
    client: str
    currency: str
    period: int
    companies: list[str]
    parts: dict[str, Translated]
    #: per company (and the elimination company), what is eliminated
    eliminated: dict[str, Translated]
    mismatches: list[Mismatch]
    #: account names, as the companies' charts give them (the first company naming an account wins)
    names: dict[str, str] = field(default_factory=dict)
    #: per company, its accounts' ``account_group`` (a SAF-T file's own codes), for :func:`saft.groupings`
    groups: dict[str, dict[str, str]] = field(default_factory=dict)

    def column(self, pick: Callable[[Translated], dict[str, Decimal]], source: dict[str, Translated]
               ) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for part in source.values():
            for account, value in pick(part).items():
                out[account] += value
        return out

    def unbalanced(self) -> Decimal:
        """What the consolidated trial balance sums to: zero unless eliminations do not cancel out."""
        return sum((p.total() for p in self.parts.values()), ZERO) + sum(
            (p.total() for p in self.eliminated.values()), ZERO)


def latest_period(engine: Engine, companies: tuple[str, ...], client: str) -> int:
    """The latest month with postings in any of the client's companies."""
    found = [r[1] for c in companies if (r := ledger.warehouse_period_range(engine, c))]
    if not found:
        raise ValueError(f"client '{client}': none of its companies has postings in the warehouse; import them "
                         "first or name a period")
    return max(found)


def consolidate(engine: Engine, setup: ClientSetup, rates: Rates, period: int) -> Consolidation:
    """The client's companies at ``period`` in its presentation currency, with eliminations."""
    rule = setup.eliminations
    first, last = ledger_range(period)
    members = [c for c in setup.companies if c != rule.company]
    books_of = {c: ledger.from_warehouse(engine, c, first, last) for c in dict.fromkeys(
        [*members, *([rule.company] if rule.company else [])])}
    _check_accounts(setup, books_of)
    parts, eliminated = {}, {}
    pairs: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    for company in members:
        books = books_of[company]
        tb = trial_balance(books)
        equity = None if tb.currency == setup.currency else historical_equity(
            tb, equity_history(engine, company, period), rates, setup, period)
        parts[company] = translate(tb, rates, setup.currency, period, whole=True, equity=equity)
        removed = Translated()
        if rule.accounts:
            picked = [r for r in books.rows if r[0] in rule.accounts]
            removed = _add(removed, _translate_rows(books, picked, rates, setup.currency, period))
        if rule.counterparty:
            others = [c for c in members if c != company]
            for counterpart, rows in counterparty_balances(engine, company, rule.counterparty, others,
                                                           first, last).items():
                picked = [r for r in rows if r[0] not in rule.accounts]
                part = _translate_rows(books, picked, rates, setup.currency, period)
                pairs[(company, counterpart)] = (-sum(part.closing.values(), ZERO), -sum(part.ytd.values(), ZERO))
                removed = _add(removed, part)
        eliminated[company] = removed
    if rule.company:
        eliminated[rule.company] = translate(trial_balance(books_of[rule.company]), rates, setup.currency, period,
                                             whole=False)
    mismatches = [Mismatch(a, b, kind, amounts[i], pairs.get((b, a), (ZERO, ZERO))[i])
                  for (a, b), amounts in sorted(pairs.items()) if a < b or (b, a) not in pairs
                  for i, kind in enumerate(("balance", "result"))]
    if rule.accounts and not rule.counterparty and sum((eliminated[c].total() for c in members), ZERO):
        mismatches = [Mismatch(c, "*", "balance", -sum(eliminated[c].closing.values(), ZERO), ZERO)
                      for c in members] + [Mismatch(c, "*", "result", -sum(eliminated[c].ytd.values(), ZERO), ZERO)
                                           for c in members]
    mismatches = [m for m in mismatches if m.difference]
    names: dict[str, str] = {}
    for books in books_of.values():
        for number, account in sorted(books.accounts.items()):
            if account.name:
                names.setdefault(number, account.name)
    return Consolidation(setup.client, setup.currency, period, members, parts, eliminated, mismatches, names,
                         {c: books_of[c].groups for c in members})


def _check_accounts(setup: ClientSetup, books: dict[str, Ledger]) -> None:
    """Refuse elimination accounts that no company of the client has: each is a typo that would leave
    intercompany amounts in the group's figures without a word."""
    known = {account for book in books.values() for account in book.accounts}
    unknown = [a for a in setup.eliminations.accounts if a not in known]
    if unknown:
        where = setup.described_in or f"client {quoted(setup.client)}"
        these = f"account {quoted(unknown[0])} is" if len(unknown) == 1 else \
            f"accounts {', '.join(quoted(a) for a in unknown)} are"
        raise ValueError(f"{where}.eliminate.accounts: elimination {these} in no chart of accounts and on no "
                         f"posting of client {quoted(setup.client)}'s companies ({', '.join(books)}); correct the "
                         "account numbers")


def _translate_rows(books: Ledger, rows: list[tuple], rates: Rates, presentation: str, period: int) -> Translated:
    """Rows of a company's ledger, sign turned (so adding them removes them), in the presentation currency."""
    part = Ledger(books.company, books.currency, books.from_period, books.to_period, books.accounts,
                  tuple((a, p, ledger.cents(d), ledger.cents(c)) for a, p, d, c in _turned(rows)))
    return translate(trial_balance(part), rates, presentation, period, whole=False)


def _add(one: Translated, two: Translated) -> Translated:
    out = Translated(dict(one.ytd), dict(one.closing), one.difference + two.difference,
                     {month: dict(values) for month, values in one.months.items()})
    for target, more in ((out.ytd, two.ytd), (out.closing, two.closing),
                         *((out.months.setdefault(m, {}), values) for m, values in two.months.items())):
        for account, value in more.items():
            target[account] = target.get(account, ZERO) + value
    return out


# -- the consolidated reports, as tables ---------------------------------------------------------
#
# By NS 4102 (no groupings) they are the company statements' statutory layout, built by the same
# :func:`statutory_table` in the same ``signs``, with the consolidation's columns; by another grouping
# (SAF-T codes) each line is a code, the income statement profit positive and the balance sheet in the
# ledger's sign, as the company reports by such a grouping are.

#: each company's grouping of its accounts (its own SAF-T overrides, say)
Groupings = Callable[[str], Grouping]
#: per line, per account, the amount of each column (ledger sign)
Cells = dict[Line, dict[str, list[Decimal]]]
#: (column, company, amounts per account in the ledger's sign): what one company adds to one column
Figures = list[tuple[int, str, dict[str, Decimal]]]


def _zero_signed(value: Decimal) -> Decimal:
    """``-0.00`` as ``0.00``: a turned sign must not print a minus before nothing."""
    return value + ZERO


def _by_account(figures: Figures, width: int) -> dict[str, list[Decimal]]:
    """Per account its amount in each column; accounts without any left out, as the statements leave them."""
    out: dict[str, list[Decimal]] = {}
    for column, _, values in figures:
        for account, value in values.items():
            out.setdefault(account, [ZERO] * width)[column] += value
    return {account: values for account, values in out.items() if any(values)}


def _by_line(figures: Figures, width: int, groupings: Groupings) -> Cells:
    """Per line, per account, its amount in each column; by each company's own grouping, since a SAF-T file's
    codes (or its overrides) may put the same account number on another line."""
    cells: Cells = {}
    for column, company, values in figures:
        grouping = groupings(company)
        for account, value in values.items():
            row = cells.setdefault(grouping(account), {}).setdefault(account, [ZERO] * width)
            row[column] += value
    return cells


def _rows(cells: Cells, sign: int, names: dict[str, str], extra: list[Line], fixed: dict[Line, list[Decimal]]
          ) -> list[Row]:
    """Each line with its sum (strong), its accounts under it; ``extra`` lines last, with ``fixed`` values."""
    rows = []
    for line in sorted((ln for ln in cells if ln not in extra), key=lambda ln: (ln.code, ln.name)):
        accounts = {a: v for a, v in sorted(cells[line].items()) if any(v)}
        if not accounts:
            continue
        total = [sum(column, ZERO) for column in zip(*accounts.values(), strict=True)]
        rows.append(Row((line.code, line.name, *(_zero_signed(sign * v) for v in total)), strong=True))
        rows.extend(Row((account, names.get(account, ""), *(_zero_signed(sign * v) for v in values)))
                    for account, values in accounts.items())
    rows.extend(Row((line.code, line.name, *(_zero_signed(sign * v) for v in fixed[line])), strong=True)
                for line in extra)
    return rows


def _total(rows: list[Row], title: str, width: int) -> Row:
    sums = [sum((r.cells[2 + i] for r in rows if r.strong), ZERO) for i in range(width)]  # type: ignore[misc]
    return Row(("", title, *(_zero_signed(v) for v in sums)), strong=True)


def _sources(c: Consolidation) -> list[dict[str, Translated]]:
    """The columns' parts: each company's own, then the eliminations (every company's, and an elimination
    company's)."""
    return [*({co: c.parts[co]} for co in c.companies), c.eliminated]


def off_the_lines(c: Consolidation, kind: str) -> dict[str, list[str]]:
    """Per company (or elimination company), the accounts the consolidated statement of ``kind`` lists apart,
    in no total, because no line of the statutory layout covers them: what its warning names. A client's
    report of any other kind is its balance sheet, as :func:`files.client_document` renders it."""
    is_balance = kind != "income-statement"
    layout = BALANCE_LAYOUT if is_balance else INCOME_LAYOUT
    found: dict[str, set[str]] = defaultdict(set)
    for source in _sources(c):
        for company, part in source.items():
            amounts = part.closing if is_balance else part.ytd
            found[company].update(a for a, v in amounts.items() if v and account_line(a, is_balance, layout) is None)
    return {company: sorted(accounts) for company, accounts in found.items() if accounts}


def consolidated_income_statement(c: Consolidation, groupings: Groupings | None = None, *, lang: str = "nb",
                                  signs: str = "statement") -> Table:
    """Per company the year to date, the eliminations and the group; then the group's month, the same month
    last year and last year to date. Each line's accounts under it; by NS 4102 the statutory layout down to
    Årsresultat, in ``signs``."""
    as_ledger = ledger_signs(signs)
    last_year = shift(c.period, -12)
    last_ytd = months_between(january(last_year), last_year)
    sources = _sources(c)
    group = len(sources)  # the group's year to date; its month, last year's month and last year to date follow
    width = group + 4
    figures: Figures = []
    for column, source in enumerate(sources):
        for company, part in source.items():
            figures += [(column, company, part.ytd), (group, company, part.ytd)]
            figures += [(group + offset, company, part.results(months))
                        for offset, months in ((1, [c.period]), (2, [last_year]), (3, last_ytd))]
    headers = (*c.companies, "Eliminations", "Consolidated", label(c.period), label(last_year),
               f"YTD {label(last_year)}")
    title = f"{text('consolidated income-statement', lang)} {c.client} {label(c.period)} ({c.currency})"
    if groupings is None:
        values = _by_account(figures, width)
        return statutory_table(title, headers, INCOME_LAYOUT, values, c.names, dict.fromkeys(values, False), lang,
                               as_ledger).table
    rows = _rows(_by_line(figures, width, groupings), -1, c.names, [], {})
    rows.append(_total(rows, "Resultat", width))
    return Table(title, ("Line", "Name", *headers), rows)


def consolidated_balance_sheet(c: Consolidation, groupings: Groupings | None = None, *, lang: str = "nb",
                               signs: str = "statement") -> Table:
    """Closing balances per company, the eliminations, and the group, each line's accounts under it. By NS 4102
    the statutory layout in ``signs``, the year's result and the translation difference inside Egenkapital,
    so Sum eiendeler equals Sum egenkapital og gjeld wherever the eliminations cancel out; by another
    grouping in the ledger's sign (every column sums to zero), those two lines last."""
    as_ledger = ledger_signs(signs)
    sources = _sources(c)
    width = len(sources) + 1
    parts = [(target, company, part) for column, source in enumerate(sources) for company, part in source.items()
             for target in (column, width - 1)]
    result, translation = [ZERO] * width, [ZERO] * width
    for column, _, part in parts:
        result[column] += sum(part.ytd.values(), ZERO)
        translation[column] += part.difference
    figures: Figures = [(column, company, part.closing) for column, company, part in parts]
    headers = (*c.companies, "Eliminations", "Consolidated")
    title = f"{text('consolidated balance-sheet', lang)} {c.client} {label(c.period)} ({c.currency})"
    if groupings is None:
        values = _by_account(figures, width)
        return statutory_table(title, headers, BALANCE_LAYOUT, values, c.names, dict.fromkeys(values, True), lang,
                               as_ledger, result, {TRANSLATION_KEY: translation} if any(translation) else {}).table
    rows = _rows(_by_line(figures, width, groupings), 1, c.names, [TRANSLATION, YEAR_RESULT],
                 {YEAR_RESULT: result, TRANSLATION: translation})
    rows.append(_total(rows, "Sum", width))
    return Table(title, ("Line", "Name", *headers), rows)


def mismatch_table(c: Consolidation) -> Table:
    """The intercompany amounts that do not cancel out, for a controller to follow up."""
    return Table("Intercompany amounts that do not match",
                 ("Company", "Counterpart", "Kind", "Amount", "Counter amount", "Difference"),
                 [Row((m.company, m.counterpart, m.kind, m.amount, m.counter_amount, m.difference))
                  for m in c.mismatches])
