"""Full-import throughput and peak memory, with the raw COPY ceiling and a naive pandas floor.

Each measurement runs in a fresh child process, so its peak RSS is its own.
Prints a table; nothing is asserted. Usage:

    python bench/bench_import.py [--postings 1000000] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from osr_pipelines.connectors.base import POSTING_COLUMNS, Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.warehouse.loader import Warehouse

END = date(2026, 11, 24)
COMPANY = "bench.1"


def books(postings: int, years: int = 5) -> SyntheticBooks:
    return SyntheticBooks(company_ids=("1",), postings=postings, years=years, end=END)


def everything(b: SyntheticBooks) -> Window:
    return Window(b.start, END + timedelta(days=1))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the measured phases (each runs in a child process) ------------------------------------


def loader_full(url: str, postings: int) -> tuple[int, float]:
    wh = Warehouse(url)
    b = books(postings)
    started = time.perf_counter()
    result = wh.load_postings(COMPANY, b.postings_in("1", everything(b)), window=None, run_id="bench")
    return result.rows_written, time.perf_counter() - started


def loader_nightly(url: str, postings: int) -> tuple[int, float]:
    wh = Warehouse(url)
    b = books(postings)
    window = Window.last_days(5, END)
    started = time.perf_counter()
    result = wh.load_postings(COMPANY, b.postings_in("1", window), window=window, run_id="bench-nightly")
    return result.rows_written, time.perf_counter() - started


def raw_copy(url: str, postings: int) -> tuple[int, float]:
    """The ceiling: the generator's rows straight into COPY, no transaction logic, no checks."""
    b = books(postings)
    names = ", ".join(("company", *POSTING_COLUMNS, "import_run_id"))
    started = time.perf_counter()
    n = 0
    with psycopg.connect(url) as conn, conn.cursor().copy(f"COPY gl_postings ({names}) FROM STDIN") as copy:
        for batch in b.postings_in("1", everything(b)):
            for row in batch:
                copy.write_row((COMPANY, *row, "raw"))
            n += len(batch)
    return n, time.perf_counter() - started


def pandas_to_sql(url: str, postings: int) -> tuple[int, float]:
    """The floor: collect everything into a DataFrame and let pandas insert it."""
    import pandas as pd
    from sqlalchemy import create_engine

    b = books(postings)
    started = time.perf_counter()
    rows = [(COMPANY, *row, "pandas") for batch in b.postings_in("1", everything(b)) for row in batch]
    frame = pd.DataFrame(rows, columns=["company", *POSTING_COLUMNS, "import_run_id"])
    frame["voucher_date"] = pd.to_datetime(frame["voucher_date"]).dt.date
    frame["source_changed_at"] = pd.to_datetime(frame["source_changed_at"])
    frame.to_sql("gl_postings", create_engine(url), if_exists="append", index=False, chunksize=10_000)
    return len(rows), time.perf_counter() - started


def generate_only(_url: str, postings: int) -> tuple[int, float]:
    b = books(postings)
    started = time.perf_counter()
    n = sum(len(batch) for batch in b.postings_in("1", everything(b)))
    return n, time.perf_counter() - started


# -- harness ---------------------------------------------------------------------------------


def _child(fn: Callable, url: str, postings: int, queue: mp.Queue) -> None:
    rows, seconds = fn(url, postings)
    queue.put((rows, seconds, peak_rss_mb()))


def measure(fn: Callable, url: str, postings: int) -> tuple[int, float, float]:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_child, args=(fn, url, postings, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def reset(url: str) -> None:
    wh = Warehouse(url)
    with wh.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM gl_postings")
    if wh.is_postgres:
        with psycopg.connect(_psycopg(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE gl_postings")
    wh.dispose()


def _psycopg(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    admin = _psycopg(args.pg_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS osr_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE osr_bench")
    pg = make_url(args.pg_url).set(database="osr_bench").render_as_string(False)
    sqlite = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    n = args.postings
    lines = []

    def row(label: str, result: tuple[int, float, float]) -> float:
        rows, seconds, rss = result
        rate = rows / seconds
        lines.append(f"{label:44} {rows:>10,} {seconds:8.2f}s {rate:>12,.0f}/s {rss:8.0f} MB")
        print(lines[-1], flush=True)
        return rate

    print(f"{'phase':44} {'rows':>10} {'time':>9} {'throughput':>14} {'peak RSS':>11}")
    row("generate only (source cost)", measure(generate_only, pg, n))
    Warehouse(pg).dispose()
    ceiling = row("PostgreSQL raw COPY (ceiling)", measure(raw_copy, _psycopg(pg), n))
    reset(pg)
    ours = row("PostgreSQL osr loader, full import", measure(loader_full, pg, n))
    nightly = measure(loader_nightly, pg, n)
    row("PostgreSQL osr loader, nightly 5 days", nightly)
    reset(pg)
    floor = row("PostgreSQL pandas.to_sql (floor)", measure(pandas_to_sql, pg, n))
    reset(pg)
    sqlite_rate = row("SQLite osr loader, full import", measure(loader_full, sqlite, n))
    for size in (100_000, 300_000, n):
        reset(pg)
        row(f"PostgreSQL osr loader, {size:,} postings (RSS)", measure(loader_full, pg, size))

    full_seconds = n / ours
    print()
    print(f"osr PostgreSQL load at {ours / ceiling:.0%} of raw COPY throughput (target >= 50%)")
    print(f"osr PostgreSQL load {ours / floor:.1f}x pandas.to_sql; SQLite {sqlite_rate:,.0f} postings/s")
    print(f"nightly 5-day refresh costs {nightly[1] / full_seconds:.2%} of the full import (target < 2%)")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS osr_bench WITH (FORCE)")


if __name__ == "__main__":
    main()
