"""The issue's hand case of a foreign subsidiary's equity, every figure worked out on paper.

``hand.parent`` keeps NOK, ``hand.sub`` SEK. The subsidiary was acquired in June 2024, when
1 SEK was 1.00 NOK, with share capital of SEK 10,000 and nothing earned yet:

    hand.sub    2024-06-03 S0  1920 bank   +10,000   2000 share capital -10,000   (SEK)
                2025-01-15 S1  1500 recv.  +15,000   3000 sales         -15,000
                2025-02-15 S2  1500 recv.  +10,000   3000 sales         -10,000
    hand.parent 2025-01-10 P1  1920 bank      +500   3000 sales            -500   (NOK)

SEK is 0.95 NOK on average and 0.90 at the end of January 2025, 0.85 and 0.80 in February.
In NOK at 2025-02: assets 35,000 x 0.80 = 28,000; share capital at the acquisition rate -10,000;
the year's result -15,000 x 0.95 - 10,000 x 0.85 = -22,750; the translation difference is what
makes them sum to zero: 4,750. Translated at the closing rate, share capital was -8,000 and
the difference only the year's average-against-closing gap, 2,750.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert

from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import dimension_tables, gl_postings

CLIENT = "Hand Group"
PARENT, SUB = "hand.parent", "hand.sub"
RATES_CSV = "currency,period,average,closing\nSEK,2025-01,0.95,0.90\nSEK,2025-02,0.85,0.80\n"
#: the consolidation.yaml entry of the client: the subsidiary's acquisition, at 1.00 NOK per SEK
EQUITY = {SUB: {"acquired": {"period": "2024-06", "rate": 1.00}}}

VOUCHERS = {
    SUB: ("SEK", [
        ("S0", date(2024, 6, 3), [("1920", "10000"), ("2000", "-10000")]),
        ("S1", date(2025, 1, 15), [("1500", "15000"), ("3000", "-15000")]),
        ("S2", date(2025, 2, 15), [("1500", "10000"), ("3000", "-10000")]),
    ]),
    PARENT: ("NOK", [
        ("P1", date(2025, 1, 10), [("1920", "500"), ("3000", "-500")]),
    ]),
}


ACCOUNTS = [("1500", "Kundefordringer"), ("1920", "Bankinnskudd"), ("2000", "Aksjekapital"),
            ("2020", "Overkurs"), ("2050", "Annen egenkapital"), ("3000", "Salgsinntekt"),
            ("8960", "Overføringer annen egenkapital")]


def insert_hand_group(url: str, more: dict[str, list] | None = None) -> Warehouse:
    """The hand case's books; ``more`` adds vouchers per company, in the company's currency."""
    wh = Warehouse(url)
    rows = [
        {"company": company, "posting_id": f"{voucher}-{n}", "voucher_number": voucher, "voucher_date": day,
         "period": day.year * 100 + day.month, "account": account, "amount": Decimal(amount), "currency": currency,
         "amount_currency": Decimal(amount)}
        for company, (currency, vouchers) in VOUCHERS.items()
        for voucher, day, lines in [*vouchers, *(more or {}).get(company, [])]
        for n, (account, amount) in enumerate(lines)
    ]
    accounts = [{"company": company, "id": number, "number": number, "name": name,
                 "account_type": "balance" if number < "3" else "income"}
                for company in VOUCHERS for number, name in ACCOUNTS]
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings), rows)
        conn.execute(insert(dimension_tables["accounts"]), accounts)
    return wh
