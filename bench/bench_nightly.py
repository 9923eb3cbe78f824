"""A nightly over N companies through the real daemon, the shipped ``deploy/dagster.yaml`` and PostgreSQL.

Creates N synthetic companies (about 10 postings each in the 5-day window),
spread over ``--connections`` connections, adds their partitions, starts
``dagster-daemon run -w workspace.yaml`` and launches one ``nightly_import``
backfill over every company: the same queue, limits and run launcher a
production installation uses. Prints throughput, orchestration seconds per
company (wall time minus the source and load time the warehouse logged) and
the peak memory of the daemon's whole process tree. Usage:

    python bench/bench_nightly.py --companies 40 [--connections 10] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import yaml
from dagster import DagsterInstance, DagsterRunStatus
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from osr_pipelines.partitions import company_partitions
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=40)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--pg-url", default=os.environ.get("OSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="osr-bench-nightly-"))
    storage = make_url(create_database(args.pg_url, "dagster"))
    warehouse_url = create_database(args.pg_url, "wh")
    (home / "dagster").mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster" / "dagster.yaml")
    reg = registry(args.companies, args.connections)
    (home / "registry.yaml").write_text(yaml.safe_dump(reg, sort_keys=False))
    env = {"DAGSTER_HOME": str(home / "dagster"), "OSR_HOME": str(home), "OSR_REGISTRY": str(home / "registry.yaml"),
           "OSR_WAREHOUSE_URL": warehouse_url, "DAGSTER_PG_HOST": storage.host or "127.0.0.1",
           "DAGSTER_PG_PORT": str(storage.port or 5432), "DAGSTER_PG_DB": storage.database or "",
           "DAGSTER_PG_USER": storage.username or "postgres", "DAGSTER_PG_PASSWORD": storage.password or ""}
    os.environ.update(env)
    instance = DagsterInstance.get()
    keys = [f"{co['connection']}.{co['erp_id']}" for co in reg["companies"]]
    instance.add_dynamic_partitions(company_partitions.name, keys)
    Warehouse(warehouse_url)  # tables exist before the first run

    daemon = subprocess.Popen([BIN / "dagster-daemon", "run", "-w", "workspace.yaml"], cwd=ROOT, env=os.environ,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    peak = 0.0
    try:
        time.sleep(5)  # the daemon's first heartbeat
        started = time.perf_counter()
        subprocess.run([BIN / "dagster", "job", "backfill", "-w", "workspace.yaml", "-j", "nightly_import",
                        "--partitions", ",".join(keys), "--noprompt"], cwd=ROOT, check=True, capture_output=True)
        last_report = 0.0
        while True:
            peak = max(peak, tree_rss_mb(daemon.pid))
            runs = instance.get_runs()
            done = [r for r in runs if r.status in DONE]
            elapsed = time.perf_counter() - started
            if elapsed - last_report >= 15:
                last_report = elapsed
                print(f"  {elapsed:6.0f}s  {len(done)}/{len(keys)} companies done, "
                      f"{len(done) / elapsed * 60:.1f}/min, tree {peak:.0f} MB peak", flush=True)
            if len(done) >= len(keys):
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        daemon.terminate()
        daemon.wait(60)

    failed = [r for r in runs if r.status != DagsterRunStatus.SUCCESS]
    with Warehouse(warehouse_url).engine.connect() as conn:
        work = float(conn.execute(select(func.coalesce(func.sum(import_log.c.seconds), 0))).scalar_one())
    n = len(keys)
    print(f"companies per minute: {n / wall * 60:.1f}")
    print(f"source and load time: {work:.1f} s in all; orchestration per company: {(wall - work) / n:.2f} s "
          f"(wall time minus source and load time, {n} companies)")
    print(f"failed runs: {len(failed)}")
    print(f"nightly: {n} companies in {wall:.0f} s = {wall / n:.2f} s/company, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
