"""Seconds per company of what one ``company_reports`` step does, split by phase, in this process (no daemon).

N companies of a year's synthetic postings each (as ``bench_reports.py
--after-nightly`` loads them) in a fresh PostgreSQL warehouse; then, per
company, the phases of the report assets' step with the same functions:
warehouse queries (ledger, budget, last voucher date), building the three
reports and their warnings, the chart, the rest of the documents, HTML,
Excel and the Markdown metadata. The first company is rendered once before
timing (imports, font cache). Prints seconds per company per phase, the load
average beside them, and with ``--profile`` cProfile's top functions.
Usage:

    python bench/bench_report_render.py [--companies 20] [--postings 365] [--profile 30]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import psycopg
from sqlalchemy.engine import make_url

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.reports import budgets, files, ledger
from osr_pipelines.reports import warnings as checks
from osr_pipelines.reports.build import KINDS, build_report, ledger_range
from osr_pipelines.reports.tables import markdown
from osr_pipelines.warehouse.loader import Warehouse

END = date(2026, 11, 24)
PHASES = ("queries", "build", "chart", "document", "html", "excel", "markdown")
T = TypeVar("T")


class Clock:
    """Seconds spent per phase over every company: wall time, and this process's CPU time (which other work on
    a busy machine disturbs less; the database's own time is in the wall time only)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def __call__(self, phase: str, work: Callable[[], T]) -> T:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return work()
        finally:
            self.spent[phase] += time.perf_counter() - started
            self.cpu[phase] += time.process_time() - cpu


def render_company(wh: Warehouse, company: str, folder: Path, clock: Clock) -> None:
    """One company's three reports as ``company_reports`` makes them (default period, statutory layout)."""
    engine = wh.engine
    covered = clock("queries", lambda: ledger.warehouse_period_range(engine, company))
    assert covered is not None
    period = covered[1]
    books = clock("queries", lambda: ledger.from_warehouse(engine, company, *ledger_range(period)))
    plans = [(kind, clock("queries", lambda k=kind: budgets.report_budget(engine, company, k, period, "warehouse")))
             for kind in KINDS]
    booked_to = clock("queries", lambda: checks.last_voucher_date(engine, company, period))
    notes = [n for n in [checks.partly_booked(period, END, booked_to, "nb")] if n]
    reports = clock("build", lambda: [build_report(kind, books, period, budget=budget) for kind, budget in plans])
    vouchers = None
    chart = files.monthly_result_svg
    for report in reports:
        if report.unbalanced and vouchers is None:
            vouchers = clock("queries", lambda: checks.unbalanced_vouchers(wh, company, period))
        found = clock("build", lambda r=report, v=vouchers: checks.for_report(r, company, v))

        def timed_chart(*args: object, **kwargs: object) -> str:
            return clock("chart", lambda: chart(*args, **kwargs))

        files.monthly_result_svg = timed_chart  # the chart's own share of the document
        try:
            doc = clock("document", lambda r=report, f=found: files.company_document(r, company, f, notes))
        finally:
            files.monthly_result_svg = chart
        clock("html", lambda d=doc: files.write(d, folder, ("html",)))
        clock("excel", lambda d=doc: files.write(d, folder, ("xlsx",)))
        clock("markdown", lambda r=report: "\n\n".join(markdown(t, "nb") for t in r.tables))


def fill(url: str, companies: int, postings: int) -> tuple[Warehouse, list[str]]:
    wh = Warehouse(url)
    keys = []
    for n in range(companies):
        erp_id = str(1000 + n)
        key = f"syn0.{erp_id}"
        books = SyntheticBooks(company_ids=(erp_id,), postings=postings, years=1, end=END)
        wh.load_postings(key, books.postings_in(erp_id, Window(books.start, END + timedelta(days=1))), window=None,
                         run_id="bench")
        wh.load_dimension(key, "accounts", [books.dimension("accounts")], run_id="bench")
        keys.append(key)
    return wh, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--postings", type=int, default=365, help="postings per company (a year)")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also run cProfile over a second pass and print its top functions (by own time)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"osr_bench_render_{uuid.uuid4().hex[:8]}"
    admin = make_url(args.pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        wh, keys = fill(make_url(args.pg_url).set(database=name).render_as_string(False), args.companies,
                        args.postings)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            first = Clock()  # imports, font cache, first connection: what each report run's process pays once
            render_company(wh, keys[0], folder, first)
            print(f"first company (cold): {sum(first.spent.values()):.3f} s wall, {sum(first.cpu.values()):.3f} s "
                  f"CPU; chart {first.spent['chart']:.3f} s, excel {first.spent['excel']:.3f} s")
            clock = Clock()
            load = os.getloadavg()
            started, cpu = time.perf_counter(), time.process_time()
            for key in keys:
                render_company(wh, key, folder, clock)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            load = tuple(max(a, b) for a, b in zip(load, os.getloadavg(), strict=True))
            print(f"{len(keys)} companies of {args.postings} postings: {wall / len(keys):.3f} s/company wall, "
                  f"{cpu / len(keys):.3f} s/company CPU (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
                  "the higher of before and after)")
            print(f"  {'s/company':9} " + " ".join(f"{p:>9}" for p in PHASES))
            for what, spent in (("wall", clock.spent), ("CPU", clock.cpu)):
                per = {p: spent[p] / len(keys) for p in PHASES}
                per["document"] -= per["chart"]  # the chart is drawn inside company_document
                print(f"  {what:9} " + " ".join(f"{per[p]:9.4f}" for p in PHASES))
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for key in keys:
                    render_company(wh, key, folder, Clock())
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats("tottime").print_stats(args.profile)
                stats.sort_stats("cumulative").print_stats(args.profile)
        wh.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
