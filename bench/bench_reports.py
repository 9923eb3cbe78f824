"""Report timings: seconds per company for the trial balance, and a thousand companies' reports after a nightly.

``--postings`` (default): loads one company of N synthetic postings (5 years)
into fresh PostgreSQL and SQLite warehouses, then times what the
``trial_balance`` asset does for the last month: the grouped query over the
company's postings plus the report built from its totals.

``--after-nightly N``: N companies of one connection, their postings in a
PostgreSQL warehouse and the shipped ``deploy/dagster.yaml`` on PostgreSQL;
the nightly's batch runs as the ``nightly_imports`` schedule plans them,
recorded as succeeded; for each, the ``reports_after_imports`` sensor is
evaluated as the daemon evaluates it, and the report runs it requests are
queued to the real daemon, which runs them (run queue, run launcher, a
process per run). Prints the wall time from the first request until every
report run has ended; the sensor's own interval (30 s) comes on top in
production. Prints tables; nothing is asserted. Usage:

    python bench/bench_reports.py [--postings 1000000] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
    python bench/bench_reports.py --after-nightly 1000 [--nightly-postings 365]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
from scratch import scratch_database
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
    parser.add_argument("--after-nightly", type=int, metavar="COMPANIES",
                        help="time the reports of this many companies after their nightly, through the daemon")
    parser.add_argument("--nightly-postings", type=int, default=365, help="postings per company (a year)")
    args = parser.parse_args()
    if args.after_nightly:
        after_nightly(args.after_nightly, args.nightly_postings, args.pg_url)
        return
    with scratch_database(args.pg_url, "osr_bench_reports") as pg, tempfile.TemporaryDirectory() as tmp:
        targets = {"postgresql": pg, "sqlite": f"sqlite:///{Path(tmp) / 'warehouse.db'}"}
        print(f"trial_balance for {args.postings:,} postings (5 years), best of {args.repeats}")
        print(f"  {'database':10} {'load s':>8} {'query s':>8} {'report s':>9} {'totals':>7}")
        for label, url in targets.items():
            started = time.perf_counter()
            wh = fill(url, args.postings)
            loaded = time.perf_counter() - started
            query, whole, rows = time_trial_balance(wh, args.repeats)
            print(f"  {label:10} {loaded:8.1f} {query:8.2f} {whole:9.2f} {rows:7}")
            wh.dispose()


# -- reports after a nightly, through the real daemon -----------------------------------------------


def after_nightly(companies: int, postings: int, pg_url: str) -> None:
    """Reports of ``companies`` refreshed after their nightly: the nightly's batch runs as the schedule plans
    them, each followed by the report run the ``reports_after_imports`` sensor requests, run by the daemon."""
    from bench_nightly import DONE, bench_home, launch_tags, nightly_requests, running_daemon, tree_rss_mb
    from dagster import DagsterEventType, DagsterRunStatus, build_run_status_sensor_context

    from osr_pipelines.definitions import build_definitions
    from osr_pipelines.resources import RegistryResource
    from osr_pipelines.runner import submit_runs
    from osr_pipelines.sensors.reports import reports_after_imports

    bench = bench_home("reports", companies, 1, pg_url)
    wh = Warehouse(bench.warehouse_url)
    started = time.perf_counter()
    load_year(wh, bench.keys, postings)
    wh.dispose()
    print(f"warehouse: {companies} companies of {postings} postings loaded in {time.perf_counter() - started:.0f} s",
          flush=True)
    registry = RegistryResource(path=str(bench.home / "registry.yaml"))
    instance = bench.instance
    nightly_import = build_definitions().resolve_job_def("nightly_import")
    imports = [instance.create_run_for_job(nightly_import, run_config=r.run_config, tags=launch_tags(r),
                                           status=DagsterRunStatus.SUCCESS)
               for r in nightly_requests(instance, bench.home / "registry.yaml")]
    peak = 0.0
    with running_daemon():
        started = time.perf_counter()
        requests = []
        for run in imports:  # what the sensor requests as each import batch succeeds
            context = build_run_status_sensor_context(
                sensor_name="reports_after_imports", dagster_instance=instance, dagster_run=run,
                dagster_event=_success_event(run), resources={"registry": registry})
            requests.extend(reports_after_imports(context))
        submit_runs(instance, "company_reports_job", [({}, r.tags) for r in requests])
        print(f"{len(imports)} nightly batch runs: {len(requests)} report runs requested and queued in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        ids = set()
        while True:
            peak = max(peak, tree_rss_mb(os.getpid()))
            runs = [r for r in instance.get_runs() if r.job_name == "company_reports_job"]
            ids = {r.run_id for r in runs}
            if len(runs) >= len(requests) and all(r.status in DONE for r in runs):
                break
            time.sleep(1)
        wall = time.perf_counter() - started
    done = sum(1 for run_id in ids for _ in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION))
    failed = [r.run_id for r in runs if r.status != DagsterRunStatus.SUCCESS]
    print(f"reports after a nightly: {companies} companies ({done} report materializations) in {wall:.0f} s = "
          f"{wall / companies:.2f} s/company, {len(runs)} runs ({len(failed)} failed), peak {peak:.0f} MB "
          f"(goal: 300 s for 1,000 companies)")
    drop_bench(bench, pg_url)


def load_year(wh: Warehouse, keys: list[str], postings: int) -> None:
    """The postings a nightly leaves: each company's year (``<connection>.<erp id>``), as imported before."""
    for key in keys:
        erp_id = key.split(".", 1)[1]
        books = SyntheticBooks(company_ids=(erp_id,), postings=postings, years=1, end=END)
        wh.load_postings(key, books.postings_in(erp_id, Window(books.start, END + timedelta(days=1))), window=None,
                         run_id="bench")
        wh.load_dimension(key, "accounts", [books.dimension("accounts")], run_id="bench")


def drop_bench(bench, pg_url: str) -> None:
    """Dispose of a ``bench_nightly.bench_home``: its instance, its two databases, its folder."""
    bench.instance.dispose()
    admin = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (os.environ["DAGSTER_PG_DB"], make_url(bench.warehouse_url).database):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    shutil.rmtree(bench.home, ignore_errors=True)


def _success_event(run):
    from dagster import DagsterEvent, DagsterEventType

    return DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name)


if __name__ == "__main__":
    main()
