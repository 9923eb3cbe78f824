"""The agent's configuration folder, its fixed queries and its admin page (served by uvicorn on loopback)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from osr_agent import execute, protocol
from osr_agent.admin import admin_app
from osr_agent.cli import agent
from osr_agent.config import AgentConfig, ConfigError, DataSource
from osr_agent.queries import ACCOUNT_COLUMNS, ACTOR_COLUMNS, COMPANY_COLUMNS, POSTING_COLUMNS, QUERIES
from osr_pipelines.connectors.visma_business.model import ACCOUNT, ASSOCIATE, COMPANY, GL_TRANSACTION
from tests.agent.conftest import _free_port


def answer(config: AgentConfig, request: dict) -> tuple[list, dict]:
    rows, end = [], {}
    for kind, payload in execute.handle(config, request):
        if kind == protocol.DATA:
            rows += protocol.decode(payload)
        else:
            end = {"kind": kind, **protocol.decode(payload)}
    return rows, end


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "machine-id"
    path.write_text("first-machine\n")
    monkeypatch.setenv("OSR_AGENT_MACHINE_ID_FILE", str(path))
    return path


def _source(db: Path) -> DataSource:
    return DataSource(name="visma", server=str(db), login="osr_reader", driver="SQLite3")


def test_the_queries_read_the_columns_the_platform_maps() -> None:
    assert GL_TRANSACTION.names("sql") == POSTING_COLUMNS
    assert ASSOCIATE.names("sql") == ACTOR_COLUMNS
    assert ACCOUNT.names("sql") == ACCOUNT_COLUMNS
    assert set(COMPANY_COLUMNS) <= set(COMPANY.names("sql"))


def test_only_the_fixed_queries_run_with_checked_parameters(machine: Path, tmp_path: Path, vb_databases: Path) -> None:
    config = AgentConfig(tmp_path / "cfg")
    key = config.add(_source(vb_databases), "pw")
    refused = {
        "unknown query": {"name": "SELECT * FROM Frm", "params": {}},
        "exactly the parameters": {"name": "accounts", "params": {"company": 1001, "sql": "DROP TABLE Ac"}},
        "whole number": {"name": "accounts", "params": {"company": "1001; DROP TABLE Ac"}},
        "'end' must be after": {"name": "postings", "params": {"company": 1001, "start": 20250201, "end": 20250101}},
        "from 0 to": {"name": "balances", "params": {"company": -1, "from_period": 202501, "to_period": 202512}},
    }
    for why, request in refused.items():
        rows, end = answer(config, {"op": "query", "key": key, **request})
        assert rows == [] and end["kind"] == protocol.ERROR and why in end["error"], (why, end)
    rows, end = answer(config, {"op": "query", "key": key, "name": "postings",
                                "params": {"company": 1001, "start": 20250301, "end": 20250401}})
    assert end == {"kind": protocol.END, "rows": len(rows)} and rows
    assert {r[4] // 100 for r in rows} == {202503}
    assert [(r[0], r[1]) for r in rows] == sorted((r[0], r[1]) for r in rows)
    assert set(QUERIES) == {"companies", "postings", "count", "balances", "accounts", "actors",
                            *(f"org_unit_{n}" for n in range(1, 13))}


def test_keys_are_kept_as_digests_and_a_new_key_revokes_the_old(machine: Path, tmp_path: Path,
                                                                 vb_databases: Path) -> None:
    config = AgentConfig(tmp_path / "cfg")
    key = config.add(_source(vb_databases), "pw-Secret-42")
    text = (tmp_path / "cfg" / "agent.json").read_text()
    assert key not in text and key.split("-", 2)[2] not in text and "pw-Secret-42" not in text
    assert protocol.digest(key) in text
    new = config.regenerate_key("visma")
    request = {"op": "query", "name": "companies", "params": {}}
    assert answer(config, {**request, "key": key})[1]["error"].startswith("the pairing key was refused")
    assert answer(config, {**request, "key": new})[1] == {"kind": protocol.END, "rows": 2}


def test_a_folder_copied_to_another_machine_asks_for_its_sql_passwords_again(
        machine: Path, tmp_path: Path, vb_databases: Path) -> None:
    config = AgentConfig(tmp_path / "cfg")
    key = config.add(_source(vb_databases), "pw-first")
    shutil.copytree(tmp_path / "cfg", tmp_path / "moved")
    machine.write_text("second-machine\n")
    moved = AgentConfig.load(tmp_path / "moved")
    assert moved.source("visma").server == str(vb_databases) and moved.password(moved.source("visma")) is None
    _, end = answer(moved, {"op": "query", "name": "companies", "params": {}, "key": key})
    assert "has no SQL password on this machine: type it in again" in end["error"]
    listed = CliRunner().invoke(agent, ["list", "--config", str(tmp_path / "moved")])
    assert "password must be typed in again" in listed.output
    typed = CliRunner().invoke(agent, ["password", "visma", "--config", str(tmp_path / "moved"),
                                       "--password-env", "NEW_PW"], env={"NEW_PW": "pw-second"})
    assert typed.exit_code == 0, typed.output
    moved = AgentConfig.load(tmp_path / "moved")
    assert moved.password(moved.source("visma")) == "pw-second"
    assert answer(moved, {"op": "query", "name": "companies", "params": {}, "key": key})[1]["rows"] == 2


def test_a_damaged_configuration_is_named_with_its_place_and_loaded_as_written(machine: Path, tmp_path: Path,
                                                                                 vb_databases: Path) -> None:
    folder = tmp_path / "cfg"
    config = AgentConfig(folder)
    config.add(_source(vb_databases), "pw")
    assert AgentConfig.load(folder).sources == config.sources
    path = folder / "agent.json"
    written = json.loads(path.read_text())
    cases = {
        b"": "is empty",
        path.read_bytes()[:40]: "is not JSON (Input data was truncated; truncated?)",
        b"\x00\xff binary": "is not JSON (JSON is malformed",
        b"[]": ": Expected `object`, got `array`",
        json.dumps({**written, "sources": [{**written["sources"][0], "server": 5}]}).encode():
            ": Expected `str`, got `int` - at `$.sources[0].server`",
        json.dumps({**written, "sources": [{**written["sources"][0], "auth": "kerberos", "file_paths": ["rel"]},
                                           written["sources"][0]]}).encode():
            ": sources[0]: data source 'visma': field 'auth' must be 'sql' or 'windows'; data source name 'visma' "
            "is used 2 times",
        b" " * (1 << 20) + b"{}": "is larger than 1024 KiB",
    }
    for content, says in cases.items():
        path.write_bytes(content)
        with pytest.raises(ConfigError) as refused:
            AgentConfig.load(folder)
        assert str(refused.value).startswith(f"the agent configuration {path}"), refused.value
        assert says in str(refused.value), (says, refused.value)


@pytest.fixture
def admin(machine: Path, tmp_path: Path) -> Iterator[tuple[str, AgentConfig, list[str]]]:
    config = AgentConfig(tmp_path / "cfg")
    announced: list[str] = []

    async def changed() -> None:
        announced.append(",".join(s.key_id for s in config.sources))

    port = _free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(admin_app(config, lambda: "not connected (test)", changed),
                                           host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", config, announced
    finally:
        server.should_exit = True
        thread.join(10)


def test_the_admin_page_adds_shows_the_key_once_tests_regenerates_and_removes(
        admin: tuple[str, AgentConfig, list[str]], vb_databases: Path) -> None:
    base, config, announced = admin
    form = {"name": "Visma prod", "server": str(vb_databases), "system_database": "vbsys", "auth": "sql",
            "login": "osr_reader", "password": "pw", "driver": "SQLite3", "file_paths": "/srv/docs\n/srv/scans"}
    with httpx.Client(base_url=base, headers={"Origin": base}, follow_redirects=True) as http:
        added = http.post("/sources", data=form)
        assert added.status_code == 200
        key = re.search(r"vbk-[0-9a-f]{12}-[A-Za-z0-9_-]{43}", added.text).group(0)
        assert config.source("Visma prod").file_paths == ("/srv/docs", "/srv/scans") and len(announced) == 1
        index = http.get("/").text
        assert "Visma prod" in index and key not in index and key.split("-")[1] in index
        tested = http.post("/sources/Visma%20prod/test")
        assert "connected: 2 companies in vbsys" in tested.text
        again = http.post("/sources/Visma%20prod/key").text
        new = re.search(r"vbk-[0-9a-f]{12}-[A-Za-z0-9_-]{43}", again).group(0)
        assert new != key and not protocol.matches(key, config.source("Visma prod").key_digest)
        assert protocol.matches(new, config.source("Visma prod").key_digest)
        edited = http.post("/sources/Visma%20prod", data={**form, "password": "", "system_database": "vbsys2"})
        assert edited.status_code == 200 and config.source("Visma prod").system_database == "vbsys2"
        assert config.password(config.source("Visma prod")) == "pw"  # a blank password keeps the saved one
        bad = http.post("/sources", data={**form, "name": "second", "file_paths": "relative/docs"})
        assert bad.status_code == 400 and "is not absolute" in bad.text
        assert http.post("/sources/Visma%20prod/delete").status_code == 200 and config.sources == []
    assert httpx.get(f"{base}/", headers={"Host": "attacker.example"}).status_code == 403
    assert httpx.post(f"{base}/sources", data=form, headers={"Origin": "https://attacker.example"}).status_code == 403
    assert config.sources == []


@pytest.mark.parametrize(("blocked", "args", "says"), [
    ("cryptography", ["agent", "list", "--config", "."],
     "the agent needs cryptography, which is not installed: pip install ./agent (or 'osr-pipelines[agent]' beside "
     "the platform)"),
    ("uvicorn", ["gateway", "--cert", "x.pem", "--key", "x.key"],
     "the gateway needs uvicorn, which is not installed: pip install 'osr-pipelines[gateway]'"),
])
def test_osr_agent_and_gateway_name_their_missing_extra_in_one_line(tmp_path: Path, blocked: str, args: list[str],
                                                                     says: str) -> None:
    (tmp_path / "x.pem").write_text("")
    (tmp_path / "x.key").write_text("")
    script = f"""
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Blocker())
from osr_pipelines.cli.main import main
sys.argv = ["osr", *{args!r}]
main()
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 1 and done.stderr.strip() == f"Error: {says}", done.stderr
