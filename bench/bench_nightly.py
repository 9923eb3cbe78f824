"""A nightly over N companies through the real daemon, the shipped ``deploy/dagster.yaml`` and PostgreSQL.

Creates N synthetic companies (about 10 postings each in the 5-day window),
spread over ``--connections`` connections, adds their partitions, starts
``dagster-daemon run -w workspace.yaml``, evaluates the ``nightly_imports``
schedule and submits each of its run requests (batches of one connection's
companies) to the daemon's queue from one loaded workspace, as the scheduler
daemon does at 02:00: the same requests, queue, limits and run launcher.
``--submit launch`` submits them with a ``dagster job launch`` process each
instead (this benchmark's way before: each launch loads the code location
twice, a cost the scheduler does not pay). Prints throughput,
orchestration seconds per company (wall time minus the source and load time
the warehouse logged) and the peak memory of the whole process tree (daemon,
code servers, runs and the launches). Usage:

    python bench/bench_nightly.py --companies 40 [--connections 10] [--submit workspace|launch]
        [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import yaml
from dagster import DagsterInstance, DagsterRunStatus, RunRequest, build_schedule_context
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from osr_pipelines.definitions import build_definitions
from osr_pipelines.partitions import company_partitions
from osr_pipelines.resources import RegistryResource
from osr_pipelines.runner import submit_runs
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import import_log

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DONE = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def create_database(server: str, prefix: str) -> str:
    name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(make_url(server).set(drivername="postgresql").render_as_string(False),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server).set(database=name).render_as_string(False)


def tree_rss_mb(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        children.setdefault(int(fields["PPid"]), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / 1024


def registry(companies: int, connections: int) -> dict:
    per = -(-companies // connections)
    conns, cos = [], []
    for c in range(connections):
        ids = [str(1000 + c * per + i) for i in range(per) if c * per + i < companies]
        if not ids:
            break
        name = f"syn{c}"
        conns.append({"name": name, "type": "synthetic", "level": "customer", "parent": "Bench",
                      "options": {"companies": ",".join(ids), "postings": "730", "years": "1"}})
        cos += [{"connection": name, "erp_id": i, "name": f"Bench {i} AS", "client": "Bench"} for i in ids]
    return {"customers": [{"name": "Bench", "groups": [{"name": "Bench", "clients": [{"name": "Bench"}]}]}],
            "connections": conns, "companies": cos}


@dataclass(frozen=True)
class BenchHome:
    home: Path
    instance: DagsterInstance
    keys: list[str]
    warehouse_url: str


def bench_home(prefix: str, companies: int, connections: int, pg_url: str) -> BenchHome:
    """A home with the shipped ``deploy/dagster.yaml`` on fresh PostgreSQL databases, its companies partitioned
    (as after the sensor added them), set in this process's environment for the daemon and Dagster's CLI."""
    home = Path(tempfile.mkdtemp(prefix=f"osr-bench-{prefix}-"))
    storage = make_url(create_database(pg_url, "dagster"))
    warehouse_url = create_database(pg_url, "wh")
    (home / "dagster").mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster" / "dagster.yaml")
    reg = registry(companies, connections)
    (home / "registry.yaml").write_text(yaml.safe_dump(reg, sort_keys=False))
    os.environ.update({
        "DAGSTER_HOME": str(home / "dagster"), "OSR_HOME": str(home), "OSR_REGISTRY": str(home / "registry.yaml"),
        "OSR_WAREHOUSE_URL": warehouse_url, "DAGSTER_PG_HOST": storage.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(storage.port or 5432), "DAGSTER_PG_DB": storage.database or "",
        "DAGSTER_PG_USER": storage.username or "postgres", "DAGSTER_PG_PASSWORD": storage.password or ""})
    instance = DagsterInstance.get()
    keys = [f"{co['connection']}.{co['erp_id']}" for co in reg["companies"]]
    instance.add_dynamic_partitions(company_partitions.name, keys)
    Warehouse(warehouse_url)  # tables exist before the first run
    return BenchHome(home, instance, keys, warehouse_url)


@contextmanager
def running_daemon() -> Iterator[None]:
    """``dagster-daemon run -w workspace.yaml`` on this process's environment, from its first heartbeat on."""
    daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", "workspace.yaml"], cwd=ROOT, env=os.environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(5)  # the daemon's first heartbeat
        yield
    finally:  # the whole session: the daemon's code server and run workers too, not the daemon alone
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(60)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)


def nightly_requests(instance: DagsterInstance, registry_path: Path) -> list[RunRequest]:
    """The run requests of the ``nightly_imports`` schedule's tick, evaluated as the daemon evaluates them."""
    defs = build_definitions(registry_path)
    context = build_schedule_context(instance=instance, repository_def=defs.get_repository_def(),
                                     scheduled_execution_time=datetime.now(UTC),
                                     resources={"registry": RegistryResource(path=str(registry_path))})
    return list(defs.resolve_schedule_def("nightly_imports").evaluate_tick(context).run_requests or [])


def launch_tags(request: RunRequest) -> dict[str, str]:
    """A request's tags, with its partition's as the daemon adds it."""
    return {**request.tags, **({"dagster/partition": request.partition_key} if request.partition_key else {})}


def launch_command(request: RunRequest) -> list[str]:
    tags = launch_tags(request)
    return [str(BIN / "dagster"), "job", "launch", "-w", "workspace.yaml", "-j", "nightly_import",
            "--tags", json.dumps(tags), "--config-json", json.dumps(request.run_config)]


def run_size(run, position: dict[str, int]) -> int:
    """Companies a run covered: one, or its range's."""
    start = run.tags.get("dagster/asset_partition_range_start")
    if start is None:
        return 1
    return position[run.tags["dagster/asset_partition_range_end"]] - position[start] + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=40)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--submit", choices=("workspace", "launch"), default="workspace")
    parser.add_argument("--pg-url", default=os.environ.get("OSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    bench = bench_home("nightly", args.companies, args.connections, args.pg_url)
    instance, keys, home, warehouse_url = bench.instance, bench.keys, bench.home, bench.warehouse_url
    position = {key: i for i, key in enumerate(keys)}
    peak = 0.0
    with running_daemon():
        started = time.perf_counter()
        requests = nightly_requests(instance, home / "registry.yaml")
        print(f"schedule tick: {len(requests)} runs for {len(keys)} companies "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
        if args.submit == "workspace":
            submit_runs(instance, "nightly_import", [(r.run_config, launch_tags(r)) for r in requests])
            print(f"submitted: {time.perf_counter() - started:.1f} s", flush=True)
            launches, pending = [], []
        else:
            launches = [subprocess.Popen(launch_command(r), cwd=ROOT, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL) for r in requests[:4]]
            pending = requests[4:]
        last_report = 0.0
        while True:
            peak = max(peak, tree_rss_mb(os.getpid()))
            for i, launch in enumerate(launches):  # four launches at a time, as a tick's submissions
                if launch.poll() is not None and pending:
                    launches[i] = subprocess.Popen(launch_command(pending.pop(0)), cwd=ROOT,
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            runs = instance.get_runs()
            done = [r for r in runs if r.status in DONE]
            companies_done = sum(run_size(r, position) for r in done)
            elapsed = time.perf_counter() - started
            if elapsed - last_report >= 15:
                last_report = elapsed
                print(f"  {elapsed:6.0f}s  {companies_done}/{len(keys)} companies done in {len(done)} runs, "
                      f"{companies_done / elapsed * 60:.1f}/min, tree {peak:.0f} MB peak", flush=True)
            if len(done) >= len(requests) and not pending:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started

    failed = [r for r in runs if r.status != DagsterRunStatus.SUCCESS]
    with Warehouse(warehouse_url).engine.connect() as conn:
        work = float(conn.execute(select(func.coalesce(func.sum(import_log.c.seconds), 0))).scalar_one())
    n = len(keys)
    print(f"companies per minute: {n / wall * 60:.1f}")
    print(f"source and load time: {work:.1f} s in all; orchestration per company: {(wall - work) / n:.2f} s "
          f"(wall time minus source and load time, {n} companies)")
    print(f"runs: {len(runs)}, failed runs: {len(failed)}")
    print(f"nightly: {n} companies in {wall:.0f} s = {wall / n:.2f} s/company, peak {peak:.0f} MB "
          f"(submitted by {args.submit})")


if __name__ == "__main__":
    main()
