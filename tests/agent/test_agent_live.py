"""Agent, gateway and connector as separate processes over real TLS; the agent in a network namespace of its own.

The cases share one agent and one gateway (module scope) and run in file order: the last kills the agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import ssl
import statistics
import subprocess
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from osr_agent import protocol
from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, SourceUnavailable, Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.reports.ledger import from_direct, from_warehouse
from osr_pipelines.reports.trial_balance import trial_balance
from osr_pipelines.warehouse.loader import Warehouse
from tests.agent.conftest import BIN, World, _wait
from tests.conftest import write_registry

ENV = {"pairing_key": "OSR_TEST_VB_PAIRING_KEY"}


def connector(world: World, key: str | None = None, **options: str):  # type: ignore[no-untyped-def]
    opts = {"gateway_url": world.gateway_https, "ca_file": str(world.pki["ca"]), "timeout": "20", **options}
    return connector_type("visma-business").build("vb", opts, {"pairing_key": key or world.key}, ENV)


@pytest.fixture(scope="module")
def running(world: World) -> World:
    world.start_gateway()
    world.start_agent()
    _wait(lambda: "connected to the gateway" in world.log("agent"), 30,
          "the agent did not connect to the gateway")
    return world


def test_the_agent_is_alone_in_its_namespace_and_listens_on_nothing_but_its_admin_page(running: World) -> None:
    if running.netns is None:
        pytest.skip("no network namespace here (needs root and iproute2): the agent ran on loopback")
    ns = ["ip", "netns", "exec", running.netns]
    routes = subprocess.run([*ns, "ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    assert routes.strip().splitlines() == [line for line in routes.strip().splitlines() if "scope link" in line]
    assert len(routes.strip().splitlines()) == 1 and routes.startswith(running.host.rsplit(".", 1)[0])
    listening = subprocess.run([*ns, "ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
    assert [line.split()[3] for line in listening.strip().splitlines()] == ["127.0.0.1:5002"]
    probe = subprocess.run([*ns, "python3", "-c", "import socket; socket.create_connection(('1.1.1.1', 443), 2)"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "unreachable" in probe.stderr


def test_live_trial_balance_equals_the_one_from_the_same_books_imported(running: World, tmp_path) -> None:
    vb = connector(running)
    try:
        assert [(c.erp_id, c.name) for c in vb.list_companies()] == [
            (c.erp_id, c.name) for c in __import__("tests.agent.conftest", fromlist=["BOOKS"]).BOOKS.companies()]
        warehouse = Warehouse(f"sqlite:///{tmp_path / 'wh.db'}")
        window = Window(date(2024, 1, 1), date(2026, 1, 1))
        result = warehouse.load_postings("vb.1001", vb.stream_postings("1001", window), window=None, run_id="t")
        count = vb.source_count()
        assert count.rows == result.rows_written > 10_000 and count.exact
        warehouse.load_dimension("vb.1001", "accounts", vb.stream_dimension("1001", "accounts"), run_id="t")
        live = trial_balance(from_direct(vb, "vb.1001", "1001", 202501, 202512))
        imported = trial_balance(from_warehouse(warehouse.engine, "vb.1001", 202501, 202512))
        assert live == imported
        direct = vb.balances("1001", 202501, 202512)
        # SQLite sums its REAL amounts in floating point; the total is zero to the cent
        assert len(direct) > 100 and abs(sum(d - c for _, _, d, c in direct)) < Decimal("0.005")
    finally:
        vb.close()


def test_an_org_unit_configured_as_project_lands_in_the_project_column(running: World) -> None:
    """The org-unit role options Business NXT has, read by the same model function: R1 as project, no department."""
    books = __import__("tests.agent.conftest", fromlist=["BOOKS"]).BOOKS
    default, swapped = connector(running), connector(running, department_org_unit="none", project_org_unit="1")
    try:
        window = Window(date(2025, 1, 2), date(2025, 1, 4))
        before = [r for batch in default.stream_postings("1001", window) for r in batch]
        got = {r[0]: r for batch in swapped.stream_postings("1001", window) for r in batch}
        assert len(got) == len(before) > 0 and any(r[9] for r in before)
        assert all((got[r[0]][9], got[r[0]][10]) == (None, r[9]) for r in before)
        assert list(swapped.stream_dimension("1001", "departments")) == []
        assert [r for batch in swapped.stream_dimension("1001", "projects") for r in batch] == \
            books.dimension("departments")
    finally:
        default.close()
        swapped.close()


def test_a_document_is_read_inside_the_document_center_path_and_nothing_outside_it(running: World) -> None:
    vb = connector(running, document_provider="document-center", document_center_path=str(running.docs))
    try:
        assert b"".join(vb.document("2025/voucher-4711.pdf")) == (running.docs / "2025/voucher-4711.pdf").read_bytes()
        for bad, why in (("../secret.txt", "'..'"), ("2025/../../secret.txt", "'..'"), ("/etc/passwd", "absolute"),
                         ("2025/link-out.txt", "symbolic link")):
            with pytest.raises(SourceUnavailable, match=why):
                b"".join(vb.document(bad))
    finally:
        vb.close()
    outside = connector(running, document_provider="document-center", document_center_path=str(running.root))
    try:
        with pytest.raises(ConnectorError, match="not inside the agent's file access paths"):
            outside.list_companies()
    finally:
        outside.close()


def test_a_wrong_pairing_key_is_refused_in_the_same_time_as_a_very_wrong_one(running: World) -> None:
    prefix, kid, secret = running.key.split("-", 2)
    close = f"{prefix}-{kid}-{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    far = "x"
    with pytest.raises(CredentialsRejected, match=r"pairing key \(credential 'pairing_key', env "
                                                  r"OSR_TEST_VB_PAIRING_KEY\) was refused"):
        connector(running, close).list_companies()
    trusted = ssl.create_default_context(cafile=str(running.pki["ca"]))
    with httpx.Client(base_url=running.gateway_https, verify=trusted) as http:
        def attempt(key: str) -> float:
            started = time.perf_counter_ns()
            answer = http.post("/v1/request", json={"op": "query", "name": "companies", "params": {}},
                               headers={"Authorization": f"Bearer {key}"})
            elapsed = time.perf_counter_ns() - started
            assert answer.status_code == 401 and running.key not in answer.text
            return elapsed / 1000

        for _ in range(50):
            attempt(close)
        # 1,000 pairs, each a wrong key of the right shape and a malformed one back to back in random order:
        # the difference within a pair cancels the load of a shared machine, which drifts slower than a pair
        rng = random.Random(1)
        differences, totals = [], []
        for _ in range(1000):
            if rng.random() < 0.5:
                near, away = attempt(close), attempt(far)
            else:
                away, near = attempt(far), attempt(close)
            differences.append(near - away)
            totals.append(near + away)
    typical = statistics.median(differences)
    # Hashing and comparing a key costs about a microsecond; a leak worth measuring would be tens.
    assert abs(typical) < max(50.0, 0.05 * statistics.median(totals) / 2), (typical, statistics.median(totals))


def test_another_agent_announcing_the_key_id_with_another_digest_takes_nothing_over(running: World) -> None:
    kid = protocol.key_id(running.key)
    impostor_digest = protocol.digest(protocol.new_pairing_key())

    async def impostor() -> str:
        context = ssl.create_default_context(cafile=str(running.pki["ca"]))
        async with connect(f"wss://{running.host}:{running.port}/agent", ssl=context, proxy=None) as ws:
            await ws.send(json.dumps({"type": "hello", "sources": [{"key_id": kid, "digest": impostor_digest}]}))
            welcome = json.loads(await ws.recv())
            vb = connector(running)
            try:
                names = await asyncio.to_thread(lambda: [c.erp_id for c in vb.list_companies()])
            finally:
                vb.close()
            return f"{welcome['type']} {names}"

    assert asyncio.run(impostor()) == "welcome ['1001', '1002']"
    _wait(lambda: "with another digest; ignored" in running.log("gateway"), 10, "the gateway did not say why")


def test_the_gateway_restarted_the_agent_reconnects(running: World) -> None:
    running.stop("gateway")
    vb = connector(running)
    try:
        with pytest.raises(SourceUnavailable, match="could not be reached"):
            vb.list_companies()
        before = running.log("agent").count("connected to the gateway")
        running.start_gateway()
        _wait(lambda: running.log("agent").count("connected to the gateway") > before, 30,
              "the agent did not reconnect")
        assert len(vb.list_companies()) == 2
    finally:
        vb.close()


def test_a_direct_connection_through_the_cli_lists_reports_and_fetches_documents(running: World, tmp_path) -> None:
    write_registry(tmp_path / "registry.yaml", [], [])
    env = {**os.environ, "OSR_HOME": str(tmp_path), "OSR_REGISTRY": str(tmp_path / "registry.yaml"),
           "OSR_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'wh.db'}", "DAGSTER_HOME": str(tmp_path / "dagster"),
           "VB_PAIRING_KEY": running.key}

    def osr(*args: str, ok: bool = True, answer: str = "") -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(BIN / "osr"), *args], env=env, capture_output=True, text=True, timeout=120,
                              input=answer)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and running.key not in done.stdout + done.stderr
        return done

    osr("connection", "add", "vb", "--type", "visma-business", "--mode", "direct",
        "--credential", "pairing_key=VB_PAIRING_KEY", "--option", f"gateway_url={running.gateway_https}",
        "--option", f"ca_file={running.pki['ca']}", "--option", "document_provider=document-center",
        "--option", f"document_center_path={running.docs}")
    assert "1001" in osr("company", "available", "vb").stdout
    osr("company", "add", "vb", "1001")
    osr("report", "trial-balance", "--company", "vb.1001", "--period", "2025-12", "--format", "json",
        "--out", str(tmp_path / "reports"))
    (live,) = (tmp_path / "reports").glob("*.json")
    assert "1920" in live.read_text()
    # the same books imported through Dagster (in process, no daemon) by an import-mode connection
    osr("connection", "add", "vbi", "--type", "visma-business", "--mode", "import",
        "--credential", "pairing_key=VB_PAIRING_KEY", "--option", f"gateway_url={running.gateway_https}",
        "--option", f"ca_file={running.pki['ca']}", "--history-start", "2024-01-01")
    osr("company", "add", "vbi", "1001", answer="y\n")  # the same company as vb.1001, on purpose
    osr("import", "full", "--company", "vbi.1001")
    osr("report", "trial-balance", "--company", "vbi.1001", "--period", "2025-12", "--format", "json",
        "--out", str(tmp_path / "imported"))
    (imported,) = (tmp_path / "imported").glob("*.json")
    assert _lines(imported) == _lines(live) and "1920" in json.dumps(_lines(live))
    osr("document", "get", "vb", "2025/voucher-4711.pdf", "-o", str(tmp_path / "voucher.pdf"))
    assert (tmp_path / "voucher.pdf").read_bytes() == (running.docs / "2025/voucher-4711.pdf").read_bytes()
    refused = osr("document", "get", "vb", "2025/link-out.txt", "-o", str(tmp_path / "out.txt"), ok=False)
    assert "connection 'vb': the agent answered: '2025/link-out.txt' leads outside" in refused.stderr
    assert not (tmp_path / "out.txt").exists() and not list(tmp_path.glob(".osr-document-*"))


def _lines(report: Path) -> dict:
    """A JSON report without what names its company."""
    return {k: v for k, v in json.loads(report.read_text()).items() if k not in ("company", "names")}


def test_the_agent_killed_mid_stream_is_a_clear_error_and_then_offline(running: World) -> None:
    vb = connector(running)
    try:
        batches = vb.stream_postings("1001", Window(date(2024, 1, 1), date(2026, 1, 1)))
        first = next(batches)
        assert first
        running.procs["agent"].send_signal(signal.SIGKILL)
        with pytest.raises(SourceUnavailable, match=r"agent disconnected while sending|stopped before its end"):
            for _ in batches:
                pass
        assert vb.source_count().rows is None
        _wait(lambda: running.procs["agent"].poll() is not None, 10, "the agent did not die")
        with pytest.raises(SourceUnavailable, match=r"agent for connection 'vb' is not connected since 20\d\d-"):
            from_direct(vb, "vb.1001", "1001", 202501, 202512)
    finally:
        vb.close()
