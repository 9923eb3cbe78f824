"""A backfill of N companies with Dagster's own CLI, through the real daemon, ``deploy/dagster.yaml`` and PostgreSQL.

Creates N synthetic companies over ``--connections`` connections (their
partitions exist, as after the sensor added them), starts
``dagster-daemon run -w workspace.yaml`` and runs
``dagster job backfill -w workspace.yaml -j full_import --partitions … --noprompt``:
the command a data engineer types after adding an accounting office's clients.
The run coordinator parks the backfill's single-company runs and the
``backfill_batches`` sensor launches them in batches per connection. Prints how
long the CLI took, the runs it became, the time until every company is
imported, the per-company statuses Dagster shows, and the peak memory of the
whole process tree. Usage:

    python bench/bench_backfill.py --companies 1000 [--connections 10] [--job full_import]
        [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from collections import Counter

from dagster import AssetKey, DagsterRunStatus

from bench.bench_nightly import BIN, DONE, ROOT, bench_home, run_size, running_daemon, tree_rss_mb
from osr_pipelines.partitions import company_partitions
from osr_pipelines.run_queue import PARKED_TAG


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--job", default="full_import")
    parser.add_argument("--pg-url", default=os.environ.get("OSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    bench = bench_home("backfill", args.companies, args.connections, args.pg_url)
    instance, keys = bench.instance, bench.keys
    position = {key: i for i, key in enumerate(keys)}

    peak = 0.0
    with running_daemon():
        started = time.perf_counter()
        backfill = subprocess.Popen([BIN / "dagster", "job", "backfill", "-w", "workspace.yaml", "-j", args.job,
                                     "--partitions", ",".join(keys), "--noprompt"], cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cli_s = None
        last_report = 0.0
        while True:
            peak = max(peak, tree_rss_mb(os.getpid()))
            if cli_s is None and backfill.poll() is not None:
                cli_s = time.perf_counter() - started
                if backfill.returncode != 0:
                    raise SystemExit(f"dagster job backfill failed: {backfill.stderr.read().decode()[-2000:]}")
            runs = instance.get_runs()
            batches = [r for r in runs if PARKED_TAG not in r.tags]
            done = [r for r in batches if r.status in DONE]
            companies_done = sum(run_size(r, position) for r in done)
            elapsed = time.perf_counter() - started
            if elapsed - last_report >= 15:
                last_report = elapsed
                print(f"  {elapsed:6.0f}s  {len(runs) - len(batches)} parked, {companies_done}/{len(keys)} companies "
                      f"done in {len(done)} runs, tree {peak:.0f} MB peak", flush=True)
            if cli_s is not None and companies_done >= len(keys) and len(done) == len(batches):
                break
            time.sleep(1)
        wall = time.perf_counter() - started

    statuses = Counter(s.value for s in instance.get_status_by_partition(
        AssetKey("gl_postings"), keys, company_partitions).values())
    failed = [r for r in batches if r.status != DagsterRunStatus.SUCCESS]
    n = len(keys)
    print(f"dagster job backfill (creating {n} runs): {cli_s:.0f} s")
    print(f"runs after batching: {len(batches)}, failed: {len(failed)}; gl_postings partitions: {dict(statuses)}")
    print(f"backfill: {n} companies in {wall:.0f} s = {wall / n:.2f} s/company, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
