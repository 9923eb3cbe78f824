"""The agent's world: Visma Business databases (SQLite over ODBC), a test CA, the gateway and the agent as processes.

The agent runs in a network namespace of its own, joined to the host by a veth
pair: its only route is the /30 link to the gateway's address, so the tests
show it needs no inbound port and reaches nothing else. Without ``ip netns``
(not root), it runs on loopback and the isolation test is skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from osr_agent.config import AgentConfig, DataSource
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.tls import make_pki
from osr_sandbox.visma_business_sql import write_databases
from tests.netns import Namespace, Unavailable, namespace

BIN = Path(sys.executable).parent
BOOKS = SyntheticBooks(seed=7, company_ids=("1001", "1002"), postings=30_000, years=2, end=date(2025, 12, 31))


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class World:
    root: Path
    db: Path
    docs: Path
    pki: dict[str, Path]
    host: str
    port: int
    netns: str | None
    machine_id: Path
    config: Path
    key: str = ""
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def gateway_https(self) -> str:
        return f"https://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "OSR_AGENT_MACHINE_ID_FILE": str(self.machine_id), "PYTHONUNBUFFERED": "1"}

    def start_gateway(self) -> subprocess.Popen:
        log = (self.root / "gateway.log").open("ab")
        proc = subprocess.Popen([str(BIN / "osr"), "gateway", "--host", self.host, "--port", str(self.port),
                                 "--cert", str(self.pki["cert"]), "--key", str(self.pki["key"])],
                                stdout=log, stderr=subprocess.STDOUT, env=self.env())
        self.procs["gateway"] = proc
        _wait(lambda: _connects(self.host, self.port), 30, "the gateway did not start")
        return proc

    def start_agent(self, admin_port: int = 5002) -> subprocess.Popen:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        log = (self.root / "agent.log").open("ab")
        proc = subprocess.Popen([*prefix, str(BIN / "osr-agent"), "run", "--config", str(self.config),
                                 "--admin-port", str(admin_port), "--max-backoff", "1"],
                                stdout=log, stderr=subprocess.STDOUT, env=self.env())
        self.procs["agent"] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, name: str, sig: int = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _connects(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(check, seconds: float, message: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(message)


@pytest.fixture(scope="session")
def vb_databases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vbdb")
    write_databases(folder, BOOKS)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, vb_databases: Path) -> Iterator[World]:
    if not any("sqlite" in d.lower() for d in __import__("pyodbc").drivers()):
        pytest.skip("SQLite's ODBC driver is not installed (apt-get install unixodbc libsqliteodbc)")
    root = tmp_path_factory.mktemp("agentworld")
    with ExitStack() as stack:
        try:
            space: Namespace | None = stack.enter_context(namespace("osragent", link=231))
        except Unavailable:
            space = None
        yield from _world(root, vb_databases, space)


def _world(root: Path, vb_databases: Path, space: Namespace | None) -> Iterator[World]:
    host = space.host if space else "127.0.0.1"
    docs = root / "documents"
    (docs / "2025").mkdir(parents=True)
    (docs / "2025" / "voucher-4711.pdf").write_bytes(b"%PDF-1.4 voucher 4711\n" + bytes(range(256)) * 2000)
    (root / "secret.txt").write_text("outside the document folder")
    (docs / "2025" / "link-out.txt").symlink_to(root / "secret.txt")
    machine = root / "machine-id"
    machine.write_text("machine-one\n")
    w = World(root, vb_databases, docs, make_pki(root / "pki", (host,)), host, _free_port(host),
              space.name if space else None, machine, root / "agent-config")
    os.environ["OSR_AGENT_MACHINE_ID_FILE"] = str(machine)
    config = AgentConfig(w.config, gateway_url=f"wss://{host}:{w.port}/agent", ca_file=str(w.pki["ca"]))
    w.key = config.add(DataSource(name="visma", server=str(vb_databases), login="osr_reader", driver="SQLite3",
                                  file_paths=(str(docs),)), "s3cret-sql")
    try:
        yield w
    finally:
        for name in list(w.procs):
            w.stop(name, 9)
        os.environ.pop("OSR_AGENT_MACHINE_ID_FILE", None)
