"""Rows per second of a full AcTr read through agent and gateway, against pyodbc reading the same rows directly.

The Visma Business databases are SQLite files read through SQLite's ODBC
driver (as in the tests). The gateway (``osr gateway``) and the agent
(``osr-agent run``) run as processes of their own over TLS with a private CA;
each read runs in a child process so its peak memory is its own. Printed:
rows/s of the direct read, of the rows through agent and gateway (decoded,
unmapped), of the mapped postings (``stream_postings``), their ratio to the
direct read, and the peak RSS (VmHWM) of agent and gateway.

    .venv/bin/python bench/bench_agent.py --postings 1000000
    .venv/bin/python bench/bench_agent.py --postings 5000000 --unmapped-only   # memory stays flat
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from osr_agent import odbc
from osr_agent.config import AgentConfig, DataSource
from osr_agent.queries import resolve
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.tls import make_pki
from osr_sandbox.visma_business_sql import write_databases

BIN = Path(sys.executable).parent
FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
PARAMS = {"company": 1001, "start": 20000101, "end": 20300101}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def direct(source: DataSource) -> tuple[int, float, float]:
    query, params = resolve("postings", PARAMS)
    started = time.perf_counter()
    conn = odbc.connect(source, "F1001", "")
    rows = sum(len(chunk) for chunk in odbc.stream(conn, query, odbc.dialect(source), query.bind(params), 5000))
    return rows, time.perf_counter() - started, _peak_mb()


def through(options: dict[str, str], key: str, mapped: bool) -> tuple[int, float, float]:
    vb = connector_type("visma-business").build("bench", options, {"pairing_key": key}, {})
    started = time.perf_counter()
    if mapped:
        rows = sum(len(batch) for batch in vb.stream_postings("1001", FULL))
    else:
        rows = sum(len(chunk) for chunk in vb._rows("postings", PARAMS, "1001"))
    elapsed = time.perf_counter() - started
    vb.close()
    return rows, elapsed, _peak_mb()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("timed out starting the gateway or the agent")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000, help="AcTr rows of company 1001 (approximate)")
    parser.add_argument("--unmapped-only", action="store_true", help="skip the pass that maps the postings")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that the finally below stops agent and gateway
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_databases(root / "db", SyntheticBooks(seed=3, company_ids=("1001",), postings=args.postings, years=5,
                                                    end=date(2025, 12, 31)))
        print(f"databases written in {time.perf_counter() - started:.1f} s")
        os.environ["OSR_AGENT_MACHINE_ID_FILE"] = str(root / "machine-id")
        (root / "machine-id").write_text("bench\n")
        pki, port = make_pki(root / "pki", ("127.0.0.1",)), _port()
        source = DataSource(name="bench", server=str(root / "db"), login="bench", driver="SQLite3")
        config = AgentConfig(root / "agent", gateway_url=f"wss://127.0.0.1:{port}/agent", ca_file=str(pki["ca"]))
        key = config.add(source, "pw")
        log = (root / "procs.log").open("ab")
        gateway = subprocess.Popen([str(BIN / "osr"), "gateway", "--host", "127.0.0.1", "--port", str(port),
                                    "--cert", str(pki["cert"]), "--key", str(pki["key"])], stdout=log, stderr=log)
        agent = subprocess.Popen([str(BIN / "osr-agent"), "run", "--config", str(root / "agent"),
                                  "--admin-port", str(_port())], stdout=log, stderr=log)
        try:
            _wait_for(lambda: "connected to the gateway" in (root / "procs.log").read_text(errors="replace"), 60)
            options = {"gateway_url": f"https://127.0.0.1:{port}", "ca_file": str(pki["ca"]), "timeout": "600"}
            with ProcessPoolExecutor(1) as pool:
                rows, seconds, peak = pool.submit(direct, source).result()
            base = rows / seconds
            print(f"pyodbc directly:            {rows:>10,} rows in {seconds:6.2f} s = {base:>10,.0f} rows/s, "
                  f"peak RSS {peak:,.0f} MB")
            passes = (("through agent and gateway:", False), ("  and mapped (postings):  ", True))
            for label, mapped in passes[:1] if args.unmapped_only else passes:
                with ProcessPoolExecutor(1) as pool:
                    n, seconds, peak = pool.submit(through, options, key, mapped).result()
                assert n == rows, (n, rows)
                print(f"{label}  {n:>10,} rows in {seconds:6.2f} s = {n / seconds:>10,.0f} rows/s "
                      f"({n / seconds / base:.0%} of direct), reader peak RSS {peak:,.0f} MB")
            print(f"peak RSS: agent {_vm_hwm_mb(agent.pid):,.0f} MB, gateway {_vm_hwm_mb(gateway.pid):,.0f} MB")
        finally:
            for proc in (agent, gateway):
                proc.terminate()
                proc.wait(20)


if __name__ == "__main__":
    main()
