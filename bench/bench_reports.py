"""Seconds per company for the trial balance, on PostgreSQL and SQLite.

Loads one company of ``--postings`` synthetic postings (5 years) into a fresh
warehouse, then times what the ``trial_balance`` asset does for the last month:
the grouped query over the company's postings plus the report built from its
totals. Prints a table; nothing is asserted. Usage:

    python bench/bench_reports.py [--postings 1000000] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.reports import ledger
from osr_pipelines.reports.build import build_report, ledger_range
from osr_pipelines.warehouse.loader import Warehouse

END = date(2026, 11, 24)
COMPANY = "bench.1"
PERIOD = END.year * 100 + END.month


def fill(url: str, postings: int) -> Warehouse:
    books = SyntheticBooks(company_ids=("1",), postings=postings, years=5, end=END)
    wh = Warehouse(url)
    wh.load_postings(COMPANY, books.postings_in("1", Window(books.start, END + timedelta(days=1))),
                     window=None, run_id="bench")
    wh.load_dimension(COMPANY, "accounts", [books.dimension("accounts")], run_id="bench")
    return wh


def time_trial_balance(wh: Warehouse, repeats: int) -> tuple[float, float, int]:
    """Best seconds of the grouped query, best seconds of the whole report, rows the query returned."""
    query, whole, rows = [], [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = len(ledger.warehouse_balances(wh.engine, COMPANY, *ledger_range(PERIOD)))
        query.append(time.perf_counter() - started)
        started = time.perf_counter()
        build_report("trial-balance", ledger.from_warehouse(wh.engine, COMPANY, *ledger_range(PERIOD)), PERIOD)
        whole.append(time.perf_counter() - started)
    return min(query), min(whole), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"osr_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            targets = {"postgresql": make_url(args.pg_url).set(database=name).render_as_string(False),
                       "sqlite": f"sqlite:///{Path(tmp) / 'warehouse.db'}"}
            print(f"trial_balance for {args.postings:,} postings (5 years), best of {args.repeats}")
            print(f"  {'database':10} {'load s':>8} {'query s':>8} {'report s':>9} {'totals':>7}")
            for label, url in targets.items():
                started = time.perf_counter()
                wh = fill(url, args.postings)
                loaded = time.perf_counter() - started
                query, whole, rows = time_trial_balance(wh, args.repeats)
                print(f"  {label:10} {loaded:8.1f} {query:8.2f} {whole:9.2f} {rows:7}")
                wh.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
