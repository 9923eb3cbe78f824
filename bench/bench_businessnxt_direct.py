"""Seconds for a direct Business NXT P&L of one company, end to end through Dagster, against the sandbox.

The sandbox serves a company of ``--postings`` postings (3 years) in its own
process, as Business NXT would; a ``business-nxt`` (direct) connection reads it.
Each run materializes the ``income_statement`` asset in process: the registry
is read, the accounts fetched, the balances asked in one grouped request that
the sandbox sums (as Business NXT sums in SQL), the report built and written
as HTML and Excel. The first run finds the sandbox's per-day sums cold (it
reads the books once, as a database reads its pages from disk the first
time); the later ones are what reports cost after that. Prints one line per
run and the grouped request on its own; nothing is asserted. The goal is at
most 2 s a P&L.

    .venv/bin/python bench/bench_businessnxt_direct.py --postings 1000000
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import yaml
from serving import free_port, wait_until_serving

COMPANY = "1001"
END = "2025-12-31"
PERIOD = "2025-11"


def _books_options(postings: int) -> dict[str, str]:
    return {"companies": COMPANY, "postings": str(postings), "end": END, "years": "3"}


def serve(port: int, postings: int) -> None:
    from osr_sandbox.erps import serve_sandbox

    serve_sandbox("business-nxt-group", port, options=_books_options(postings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000, help="postings in the company's books")
    parser.add_argument("--runs", type=int, default=3, help="P&L runs, the first against cold sandbox sums")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-bnxt-"))
    os.environ["OSR_HOME"] = str(home)
    from dagster import instance_for_test, materialize

    from osr_pipelines.assets.reports import company_reports
    from osr_pipelines.connectors.catalog import connector_type
    from osr_pipelines.connectors.synthetic import books_from_options
    from osr_pipelines.partitions import company_partitions
    from osr_pipelines.resources import RegistryResource, WarehouseResource
    from osr_sandbox.erps import sandbox_erp

    context = multiprocessing.get_context("spawn")
    port = free_port()
    server = context.Process(target=serve, args=(port, args.postings), daemon=True)
    server.start()
    try:
        wait_until_serving(port, server)
        books_options = _books_options(args.postings)
        options, credentials = sandbox_erp("business-nxt-group").login(
            f"http://127.0.0.1:{port}", books_from_options(books_options), books_options)
        os.environ.update({"BENCH_BNXT_ID": credentials["client_id"],
                           "BENCH_BNXT_SECRET": credentials["client_secret"]})
        registry = home / "registry.yaml"
        registry.write_text(yaml.safe_dump({
            "customers": [{"name": "Bench", "groups": [{"name": "Bench", "clients": [{"name": "Bench AS"}]}]}],
            "connections": [{"name": "live", "type": "business-nxt", "options": options,
                             "credentials": {"client_id": "BENCH_BNXT_ID", "client_secret": "BENCH_BNXT_SECRET"}}],
            "companies": [{"connection": "live", "erp_id": COMPANY, "name": "Bench AS", "client": "Bench AS"}],
        }, sort_keys=False))
        key = f"live.{COMPANY}"
        with instance_for_test() as instance:
            instance.add_dynamic_partitions(company_partitions.name, [key])
            for run in range(1, args.runs + 1):
                started = time.perf_counter()
                result = materialize([company_reports], instance=instance, partition_key=key,
                                     selection=["income_statement"],
                                     run_config={"ops": {"company_reports": {"config": {"period": PERIOD}}}},
                                     resources={"registry": RegistryResource(path=str(registry)),
                                                "warehouse": WarehouseResource(url=f"sqlite:///{home / 'wh.db'}")})
                seconds = time.perf_counter() - started
                [materialization] = result.asset_materializations_for_node("company_reports")
                step = materialization.metadata["duration_s"].value
                print(f"direct P&L run {run} ({'cold' if run == 1 else 'warm'} sandbox sums) "
                      f"{args.postings:>10,} postings: {seconds:6.2f} s through Dagster, {step:6.2f} s in the step, "
                      f"{'ok' if result.success else 'FAILED'}", flush=True)
        connector = connector_type("business-nxt").build("bench", options, credentials, {})
        started = time.perf_counter()
        rows = connector.balances(COMPANY, 202501, 202511)
        print(f"grouped balances request alone: {time.perf_counter() - started:.3f} s for {len(rows)} "
              "account-period rows", flush=True)
        connector.close()
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
