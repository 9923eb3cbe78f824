"""Visma Business databases as SQLite files, for the agent's tests, demo and benchmark.

SQL Server is not available where the tests run, so the synthetic books are
written under Visma Business's own table and column names (the platform's
model, ``connectors/visma_business/model.py``) into one SQLite file per
database: the system database ``vbsys.db`` with the company table, and
``F<number>.db`` per company. ``AcTr`` is keyed by ``(JNo, EntNo)`` and has no
index on ``VoDt`` (vendors advise adding one on ``ValDt`` for large
databases, which suggests Visma Business ships without), so a keyset page is a
range of the key, as on SQL Server. The agent reads them through SQLite's ODBC
driver exactly as it reads SQL Server through Microsoft's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.visma_business.model import ACCOUNT, ASSOCIATE, COMPANY, GL_TRANSACTION, org_unit_table

ISO_NUMBERS = {"NOK": 0, "EUR": 978, "SEK": 752, "DKK": 208, "USD": 840}


def _int(text: object) -> int:
    return int(str(text).lstrip("P") or 0) if text else 0


def _create(db: sqlite3.Connection, table: str, columns: dict[str, str], key: tuple[str, ...]) -> None:
    """A table clustered on its key (``WITHOUT ROWID``), as SQL Server clusters a primary key."""
    body = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    db.execute(f"CREATE TABLE {table} ({body}, PRIMARY KEY ({', '.join(key)})) WITHOUT ROWID")


def _actr_rows(books: SyntheticBooks, erp_id: str) -> Iterator[tuple]:
    journal = 0
    for batch in books.postings_in(erp_id, Window(books.start, books.end.replace(year=books.end.year + 1)), 20_000):
        for row in batch:
            (_, voucher, day, _period, account, amount, currency, amount_cur, text, dept, project, customer,
             supplier, _f1, _f2, _f3, _changed) = row
            journal += 1
            vodt = int(day.replace("-", ""))
            yield (journal // 10 + 1, journal % 10 + 1, int(account), _int(voucher), vodt, vodt // 10000,
                   vodt // 100 % 100, amount, ISO_NUMBERS.get(currency or "NOK", 0), amount_cur, text,
                   _int(dept), _int(project), 0, 0, 0, 0, "", "", "", "", "", "", _int(customer), _int(supplier),
                   vodt, None)


def write_databases(folder: Path, books: SyntheticBooks) -> list[str]:
    """Write ``vbsys.db`` and one ``F####.db`` per company of ``books``; returns the company numbers."""
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [c.erp_id for c in books.companies()]
    with sqlite3.connect(folder / "vbsys.db") as sysdb:
        _create(sysdb, COMPANY.sql, {"FrmNo": "INT NOT NULL", "Nm": "VARCHAR(80)", "CustNo": "INT"}, ("FrmNo",))
        sysdb.executemany("INSERT INTO Frm VALUES (?, ?, 0)", [(int(c.erp_id), c.name) for c in books.companies()])
    actr_types = {c: "INT" for c in GL_TRANSACTION.names("sql")}
    actr_types.update({"AcAm": "DECIMAL(28,2)", "CurAm": "DECIMAL(28,2)", "Txt": "VARCHAR(80)", "ChTs": "DATETIME",
                       **{f"R{n}": "VARCHAR(50)" for n in range(7, 13)}})
    for number in numbers:
        path = folder / f"F{int(number):04d}.db"
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as db:
            _create(db, GL_TRANSACTION.sql, actr_types, ("JNo", "EntNo"))
            columns = GL_TRANSACTION.names("sql")
            db.executemany(f"INSERT INTO AcTr ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                           _actr_rows(books, number))
            _create(db, ACCOUNT.sql, {"AcNo": "INT NOT NULL", "Nm": "VARCHAR(80)", "AcGr": "VARCHAR(60)"}, ("AcNo",))
            db.executemany("INSERT INTO Ac VALUES (?, ?, ?)",
                           [(int(r[1]), r[2], r[4]) for r in books.dimension("accounts")])
            for n in range(1, 13):
                _create(db, org_unit_table(n).sql, {"RNo": "INT" if n <= 6 else "VARCHAR(50)", "Nm": "VARCHAR(80)"},
                        ("RNo",))
            db.executemany("INSERT INTO R1 VALUES (?, ?)", [(_int(r[1]), r[2]) for r in books.dimension("departments")])
            db.executemany("INSERT INTO R2 VALUES (?, ?)", [(_int(r[1]), r[2]) for r in books.dimension("projects")])
            _create(db, ASSOCIATE.sql, {"ActNo": "INT NOT NULL", "CustNo": "INT", "SupNo": "INT",
                                        "Nm": "VARCHAR(80)", "BsNo": "VARCHAR(20)"}, ("ActNo",))
            parties = [(int(r[1]), 0, r[2], r[3]) for r in books.dimension("customers")] + \
                      [(0, int(r[1]), r[2], r[3]) for r in books.dimension("suppliers")]
            db.executemany("INSERT INTO Actor VALUES (?, ?, ?, ?, ?)",
                           [(i + 1, *p) for i, p in enumerate(parties)])
    return numbers
