"""Seconds per company of what one ``company_reports`` step does, split by phase, in this process (no daemon).

N companies of a year's synthetic postings each (as ``bench_reports.py
--after-nightly`` loads them) in a fresh PostgreSQL warehouse; then, per
company, the phases of the report assets' step with the same functions:
warehouse queries (ledger, budget, last voucher date), building the three
reports and their warnings, the chart, the rest of the documents, HTML,
Excel and the Markdown metadata. The first company is rendered once before
timing (imports, font cache). Prints seconds per company per phase, the load
average beside them, and with ``--profile`` cProfile's top functions.
``--through-dagster``: instead, one report run over the companies as the sensor
requests it, executed in this process on the shipped ``deploy/dagster.yaml``:
the run's cost per company beyond the rendering (events, checks). Usage:

    python bench/bench_report_render.py [--companies 20] [--postings 365] [--profile 30] [--through-dagster]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bench_reports import END, load_year
from scratch import scratch_database

from osr_pipelines.reports import budgets, files, ledger
from osr_pipelines.reports import warnings as checks
from osr_pipelines.reports.build import KINDS, build_report, ledger_range
from osr_pipelines.reports.tables import markdown
from osr_pipelines.warehouse.loader import Warehouse

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


def through_dagster(companies: int, postings: int, pg_url: str, top: int) -> None:
    """One report run over ``companies`` as the sensor requests it (a partition range), executed in this process
    on the shipped ``deploy/dagster.yaml`` (PostgreSQL event log): what a run costs per company beyond the
    rendering, with cProfile's top functions by cumulative time where ``top`` asks."""
    from bench_nightly import bench_home
    from bench_reports import drop_bench, load_year

    from osr_pipelines.definitions import build_definitions
    from osr_pipelines.tags import RANGE_END_TAG, RANGE_START_TAG

    bench = bench_home("render", companies, 1, pg_url)
    try:
        wh = Warehouse(bench.warehouse_url)
        load_year(wh, bench.keys, postings)
        wh.dispose()
        job = build_definitions().resolve_job_def("company_reports_job")
        profiler = cProfile.Profile() if top else None
        load = os.getloadavg()
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = job.execute_in_process(instance=bench.instance, raise_on_error=False,
                                        tags={RANGE_START_TAG: bench.keys[0], RANGE_END_TAG: bench.keys[-1]})
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"one report run of {companies} companies in this process: {wall / companies:.3f} s/company wall, "
              f"{cpu / companies:.3f} s/company CPU, success {result.success} (load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before)")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    finally:
        drop_bench(bench, pg_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20)
    parser.add_argument("--postings", type=int, default=365, help="postings per company (a year)")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also run cProfile over a second pass and print its top functions (by own time)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--through-dagster", action="store_true",
                        help="instead: one report run over the companies, executed in this process by Dagster")
    args = parser.parse_args()
    if args.through_dagster:
        through_dagster(args.companies, args.postings, args.pg_url, args.profile)
        return
    with scratch_database(args.pg_url, "osr_bench_render") as url:
        wh = Warehouse(url)
        keys = [f"syn0.{1000 + n}" for n in range(args.companies)]
        load_year(wh, keys, args.postings)
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


if __name__ == "__main__":
    main()
