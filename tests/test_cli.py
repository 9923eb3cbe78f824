"""The `osr` command end to end on a real home: registry edits, imports through Dagster, delete rules."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dagster import DagsterInstance
from sqlalchemy import select

from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry
from osr_pipelines.warehouse.schema import companies
from tests.helpers import osr

SECRET = "sk-live-5ecret-value-9f2c"


@pytest.fixture
def with_connection(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_TEST_KEY", SECRET)
    osr("init", "--customer", "Acme")
    osr("connection", "add", "acme", "--type", "synthetic", "--credential", "api_key=OSR_TEST_KEY",
        "--option", "companies=1001,1002", "--option", "postings=1500", "--option", "years=1",
        "--option", f"accepted_key_sha256={hashlib.sha256(SECRET.encode()).hexdigest()}",
        "--option", f"state={home / 'books.json'}")
    return home


def instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_config(str(home / "dagster"))


def test_connection_lifecycle_and_import(with_connection: Path, warehouse_url: str, open_warehouse) -> None:
    home = with_connection
    listed = osr("connection", "list").output
    assert "acme" in listed and "synthetic" in listed and "import" in listed
    tested = osr("connection", "test", "acme").output
    assert "credentials accepted, 2 companies reachable" in tested
    assert "1001" in osr("company", "available", "acme").output

    osr("company", "add", "acme", "1001")
    osr("company", "add", "acme", "1002", "--client", "Acme Group")
    reg = load_registry(home / "registry.yaml")
    assert [(c.key, c.client) for c in reg.companies] == [("acme.1001", reg.companies[0].name),
                                                           ("acme.1002", "Acme Group")]
    numbers = {"acme.1001": "900001001", "acme.1002": "900001002"}  # as the source lists them
    assert {c.key: c.organization_number for c in reg.companies} == numbers

    out = osr("import", "full", "--all").output
    assert out.count("SUCCESS") == 2
    wh = open_warehouse(warehouse_url)
    rows = wh.count_postings("acme.1001")
    assert rows > 1000
    with wh.engine.connect() as conn:
        assert dict(conn.execute(select(companies.c.company, companies.c.organization_number)).all()) == numbers
    assert sorted(instance(home).get_dynamic_partitions(company_partitions.name)) == ["acme.1001", "acme.1002"]

    status = osr("status").output
    assert "acme (synthetic, import): healthy" in status
    assert f"rows={rows:,}" in status

    # A window backfill through the CLI: inclusive --to.
    out = osr("import", "ytd", "--company", "acme.1001", "--from", "2026-01-01", "--to", "2026-01-31").output
    assert "for [2026-01-01, 2026-02-01)" in out and "SUCCESS" in out

    shown = osr("connection", "show", "acme").output
    assert "api_key <- $OSR_TEST_KEY (set)" in shown

    osr("connection", "rename", "acme", "books")
    assert wh.count_postings("books.1001") == rows and wh.count_postings("acme.1001") == 0
    assert sorted(instance(home).get_dynamic_partitions(company_partitions.name)) == ["books.1001", "books.1002"]
    osr("connection", "set-private", "books")
    assert load_registry(home / "registry.yaml").connection("books").private is True


def test_deleting_import_connection_keeps_companies_and_data(with_connection: Path, warehouse_url: str,
                                                            open_warehouse) -> None:
    home = with_connection
    osr("company", "add", "acme", "--all")
    osr("import", "full", "--all")
    wh = open_warehouse(warehouse_url)
    rows = wh.count_postings("acme.1001")

    refused = osr("connection", "delete", "acme", ok=False, input="n\n")
    assert refused.exit_code != 0 and load_registry(home / "registry.yaml").connections

    osr("connection", "delete", "acme", "--yes")
    reg = load_registry(home / "registry.yaml")
    assert reg.connections == [] and all(c.detached for c in reg.companies) and len(reg.companies) == 2
    assert wh.count_postings("acme.1001") == rows
    assert "acme.1001" in instance(home).get_dynamic_partitions(company_partitions.name)
    assert "no longer updated" in osr("status").output
    assert "no companies to import" in osr("import", "nightly", "--all").output

    osr("company", "remove", "acme.1001", "--yes")
    assert wh.count_postings("acme.1001") == 0
    assert wh.count_postings("acme.1002") > 0
    assert "acme.1001" not in instance(home).get_dynamic_partitions(company_partitions.name)
    assert [c.key for c in load_registry(home / "registry.yaml").companies] == ["acme.1002"]


def test_deleting_direct_connection_removes_companies_partitions_and_data(home: Path, warehouse_url: str,
                                                                          open_warehouse) -> None:
    osr("init")
    osr("connection", "add", "live", "--type", "synthetic", "--mode", "direct", "--option", "companies=5")
    osr("company", "add", "live", "5")
    refused = osr("import", "full", "--company", "live.5", ok=False)
    assert "is not imported: its connection is direct" in refused.output
    # Whatever a direct company has stored (rendered output, a cache) goes with it.
    wh = open_warehouse(warehouse_url)
    wh.load_postings("live.5", [[("p1", "v1", "2026-01-02", 202601, "1920", 10.0, "NOK", 10.0, "x",
                                  None, None, None, None, None, None, None, None)]], window=None, run_id="r")
    instance(home).add_dynamic_partitions(company_partitions.name, ["live.5"])

    osr("connection", "delete", "live", "--yes")
    assert load_registry(home / "registry.yaml").companies == []
    assert wh.count_postings("live.5") == 0
    assert instance(home).get_dynamic_partitions(company_partitions.name) == []


def test_secrets_never_reach_event_log_or_output(with_connection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = with_connection
    osr("company", "add", "acme", "1001")
    outputs = [osr("import", "full", "--all").output, osr("connection", "show", "acme").output]
    monkeypatch.setenv("OSR_TEST_KEY", "wrong-key-also-secret")
    failed = osr("import", "nightly", "--all", ok=False)
    outputs.append(failed.output)
    assert ("connection 'acme', field 'api_key': the API key (credential 'api_key', env OSR_TEST_KEY) was rejected"
            in failed.output)
    tested = osr("connection", "test", "acme", ok=False)
    assert "credential 'api_key'" in tested.output
    outputs.append(tested.output)

    inst = instance(home)
    logs = [str(entry) for run in inst.get_runs() for entry in inst.all_logs(run.run_id)]
    logs += [str(run.run_config) + str(run.tags) for run in inst.get_runs()]
    assert len(logs) > 20
    for text in logs + outputs:
        assert SECRET not in text
        assert "wrong-key-also-secret" not in text


def test_missing_credential_variable_is_named(with_connection: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSR_TEST_KEY")
    out = osr("connection", "test", "acme", ok=False).output
    assert "connection 'acme': environment variable(s) not set: api_key (OSR_TEST_KEY)" in out


def test_demo_imports_three_companies_over_http(home: Path, warehouse_url: str, open_warehouse) -> None:
    out = osr("demo", "--postings", "2000", "--port", "0").output
    assert out.count("SUCCESS") == 3 and "all imports succeeded" in out
    reg = load_registry(home / "registry.yaml")
    assert reg.connection("demo").type == "tripletex"
    wh = open_warehouse(warehouse_url)
    for co in reg.companies:
        assert wh.count_postings(co.key) > 1500
        assert wh.unbalanced_vouchers(co.key) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def serving(command: list[str], port: int) -> Iterator[subprocess.Popen]:
    """Another process serving on ``port`` until the block ends."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not answers(port):
            assert process.poll() is None and time.monotonic() < deadline, f"{command} did not serve on {port}"
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(30)


def demo_port(home: Path) -> int:
    return urlsplit(load_registry(home / "registry.yaml").connection("demo").options["base_url"]).port


@pytest.fixture
def demo_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo sets its sandbox's tokens in the environment; here they are undone after the test."""
    monkeypatch.setenv("OSR_DEMO_CONSUMER_TOKEN", "sandbox-consumer-token")
    monkeypatch.setenv("OSR_DEMO_EMPLOYEE_TOKEN", "sandbox-employee-token")


def test_demo_twice_on_one_home_imports_from_the_port_it_serves_on(home: Path, warehouse_url: str,
                                                                   demo_tokens: None) -> None:
    first, second = free_port(), free_port()
    osr("demo", "--postings", "300", "--port", str(first))
    assert demo_port(home) == first
    out = osr("demo", "--postings", "300", "--port", str(second)).output
    assert out.count("SUCCESS") == 3 and demo_port(home) == second
    assert f"serves the sandbox on port {second}, as the demo connection says" in out


def test_demo_never_imports_from_whatever_holds_its_port(home: Path, warehouse_url: str, demo_tokens: None,
                                                         open_warehouse) -> None:
    taken = free_port()
    with serving([sys.executable, "-m", "http.server", str(taken), "--bind", "127.0.0.1"], taken):
        out = osr("demo", "--postings", "300", "--port", str(taken)).output
    port = demo_port(home)
    assert port != taken
    assert f"port {taken} is taken by another process: the demo's sandbox serves on port {port}" in out
    assert out.count("SUCCESS") == 3 and "all imports succeeded" in out
    wh = open_warehouse(warehouse_url)
    assert all(wh.count_postings(f"demo.{n}") > 200 for n in (1001, 1002, 1003))

    # the closing message names the port `make dev`'s sandbox command serves on: the demo connection's
    assert f"serves the sandbox on port {port}, as the demo connection says" in out
    make_dev = subprocess.run(["make", "-n", "dev"], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, env={**os.environ, "OSR_HOME": str(home)}, check=True).stdout
    assert "osr sandbox serve tripletex --from-connection demo" in make_dev
    osr_bin = str(Path(sys.executable).with_name("osr"))
    with serving([osr_bin, "sandbox", "serve", "tripletex", "--from-connection", "demo", "--postings", "300",
                  "--option", f"state={home / 'demo-books.json'}", "--option", "years=3"], port):
        assert "credentials accepted, 3 companies reachable" in osr("connection", "test", "demo").output


def test_sandbox_serve_names_every_sandbox_when_the_erp_has_none() -> None:
    """Ledger-less ERPs' sandboxes (Contracting Works) are served too, and listed with the others."""
    refused = osr("sandbox", "serve", "navision", ok=False)
    assert refused.exit_code == 2, refused.output
    known = refused.output.split("known: ", 1)[1]
    assert all(erp in known for erp in ("tripletex", "24sevenoffice", "business-nxt-group", "contracting-works"))
