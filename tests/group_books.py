"""A group of two companies with an intercompany sale, every consolidated figure worked out by hand.

``g.parent`` keeps NOK, ``g.sub`` SEK; SEK is 0.95 NOK on average in January 2024 and 0.90 at its end.
Counterparties are named in ``free_dimension_1``.

    g.parent 2024-01-05 P1  1560 IC receivable  +950 [g.sub]   3050 IC sales  -950 [g.sub]
             2024-01-15 P2  6300 rent           +200           1920 bank      -200
             2024-01-31 P3  8160 FX loss         +50           1560 IC recv.   -50 [g.sub]  (revaluation)
    g.sub    2024-01-05 S1  4050 IC purchase   +1000 [g.parent] 2460 IC payable -1000 [g.parent]  (SEK)
             2024-01-20 S2  1500 receivable    +3000            3000 sales      -3000             (SEK)
    g.elim   2024-01-31 E1  3050 IC sales       +950            4050 IC purchase -950  (an elimination company)

In NOK, g.sub's results are at 0.95 (purchase 950, sales -2850), its balances at 0.90 (payable -900,
receivable 2700): they sum to -100, so its translation difference is +100.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert

from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings

PARENT, SUB, ELIM = "g.parent", "g.sub", "g.elim"
RATES_CSV = "currency,period,average,closing\nSEK,2024-01,0.95,0.90\n"

VOUCHERS = {
    PARENT: ("NOK", [
        ("P1", date(2024, 1, 5), [("1560", "950", SUB), ("3050", "-950", SUB)]),
        ("P2", date(2024, 1, 15), [("6300", "200", None), ("1920", "-200", None)]),
        ("P3", date(2024, 1, 31), [("8160", "50", None), ("1560", "-50", SUB)]),
    ]),
    SUB: ("SEK", [
        ("S1", date(2024, 1, 5), [("4050", "1000", PARENT), ("2460", "-1000", PARENT)]),
        ("S2", date(2024, 1, 20), [("1500", "3000", None), ("3000", "-3000", None)]),
    ]),
    ELIM: ("NOK", [
        ("E1", date(2024, 1, 31), [("3050", "950", None), ("4050", "-950", None)]),
    ]),
}


#: An internal voucher of the sub on class 9 accounts, which no line of the statutory statements covers.
INTERNAL = ("X1", date(2024, 1, 20), [("9100", "70", None), ("9200", "-70", None)])


def insert_group(url: str, *, without: tuple[str, ...] = (), internal: bool = False) -> Warehouse:
    """The group's books; ``without`` leaves vouchers out (P3, say, to leave the receivable unrevalued),
    ``internal`` adds :data:`INTERNAL` to the sub's."""
    wh = Warehouse(url)
    books = {company: (currency, [*vouchers, *([INTERNAL] if internal and company == SUB else [])])
             for company, (currency, vouchers) in VOUCHERS.items()}
    rows = [
        {"company": company, "posting_id": f"{voucher}-{n}", "voucher_number": voucher, "voucher_date": day,
         "period": day.year * 100 + day.month, "account": account, "amount": Decimal(amount), "currency": currency,
         "amount_currency": Decimal(amount), "free_dimension_1": counterpart}
        for company, (currency, vouchers) in books.items()
        for voucher, day, lines in vouchers if voucher not in without
        for n, (account, amount, counterpart) in enumerate(lines)
    ]
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings), rows)
    return wh
