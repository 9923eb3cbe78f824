"""Small books inserted straight into a warehouse, with every report figure worked out by hand.

Company ``books.sek`` keeps its books in SEK (one bank line came in EUR). Its
vouchers, in SEK:

    2022-12-05  V0  1920 bank      +400   3000 sales   -400
    2023-11-15  V1  1500 receiv.  +1000   3000 sales  -1000
    2023-12-10  V2  4000 goods     +300   2400 payable  -300
    2023-12-20  V3  1920 bank     +1000   1500 receiv. -1000   (bank line: 87.50 EUR)
    2024-01-05  V4  1920 bank      +500   3000 sales    -500
    2024-01-20  V5  6300 rent      +200   1920 bank     -200
    2024-02-10  V6  7770 fees       +50   1920 bank      -50   (7770 missing from the dimension)

The result of 2022 is a profit of 400, of 2023 a profit of 1000 - 300 = 700.
No year-end entry is booked: reports carry each year's result to 2050.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert

from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import dimension_tables, gl_postings

COMPANY = "books.sek"

VOUCHERS = [
    ("V0", date(2022, 12, 5), [("1920", "400"), ("3000", "-400")]),
    ("V1", date(2023, 11, 15), [("1500", "1000"), ("3000", "-1000")]),
    ("V2", date(2023, 12, 10), [("4000", "300"), ("2400", "-300")]),
    ("V3", date(2023, 12, 20), [("1920", "1000"), ("1500", "-1000")]),
    ("V4", date(2024, 1, 5), [("1920", "500"), ("3000", "-500")]),
    ("V5", date(2024, 1, 20), [("6300", "200"), ("1920", "-200")]),
    ("V6", date(2024, 2, 10), [("7770", "50"), ("1920", "-50")]),
]

ACCOUNTS = [
    ("1500", "Kundefordringer", "balance"),
    ("1920", "Bankinnskudd", "balance"),
    ("2050", "Annen egenkapital", "balance"),
    ("2400", "Leverandørgjeld", "balance"),
    ("3000", "Salgsinntekt", "income"),
    ("4000", "Varekjøp", "income"),
    ("6300", "Leie lokale", None),
]


def insert_books(url: str, company: str = COMPANY) -> Warehouse:
    wh = Warehouse(url)
    rows = []
    for voucher, day, lines in VOUCHERS:
        for n, (account, amount) in enumerate(lines):
            foreign = voucher == "V3" and account == "1920"
            rows.append({
                "company": company, "posting_id": f"{voucher}-{n}", "voucher_number": voucher,
                "voucher_date": day, "period": day.year * 100 + day.month, "account": account,
                "amount": Decimal(amount), "currency": "EUR" if foreign else "SEK",
                "amount_currency": Decimal("87.50") if foreign else Decimal(amount),
            })
    accounts = [{"company": company, "id": str(i), "number": number, "name": name, "account_type": kind}
                for i, (number, name, kind) in enumerate(ACCOUNTS)]
    with wh.engine.begin() as conn:
        conn.execute(insert(gl_postings), rows)
        conn.execute(insert(dimension_tables["accounts"]), accounts)
    return wh
