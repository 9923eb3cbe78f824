"""The README's commands for a new user's home, run in bash exactly as written.

The connection the README adds has no ``base_url``, so it reaches Tripletex's production host. The
chain (connections, imports, warehouse upgrade, reports) therefore runs in a network namespace whose
hosts file sends that host to loopback, where the Tripletex sandbox serves HTTPS with a certificate of
a test CA; the shell trusts that CA through ``SSL_CERT_FILE``, which httpx honours. The README's
placeholder tokens (``export TT_CONSUMER=... TT_EMPLOYEE=...``) run as written: the sandbox is told to
accept ``...`` as both tokens. The namespace has no other interface, so nothing leaves the machine.
The benchmarks take minutes to hours each: their lines are checked against each script's own parser.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import runpy
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import openpyxl
import pytest
import yaml
from sqlalchemy import func, select

from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.tripletex.facts import DEFAULT_BASE_URL
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings, import_log
from osr_sandbox.server import FAULT_HEADER
from osr_sandbox.tls import make_pki
from tests.helpers import ROOT, readme_block, source_rows, warehouse_rows
from tests.netns import Namespace, Unavailable, namespace

BIN = Path(sys.executable).parent
HOST = urlsplit(DEFAULT_BASE_URL).hostname
CHAIN = ("## Connections and companies", "## Imports and backfills", "## What lands in the warehouse",
         "## Reports")
MARK = "@@ README block done:"
#: The README's placeholder, which its ``export`` line sets both tokens to.
PLACEHOLDER = "..."

# Tripletex's sandbox under Tripletex's own name: HTTPS on port 443 of the namespace's loopback.
_SERVE_TLS = """
import json, sys
import uvicorn
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.erps import sandbox_app
options, cert, key = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
uvicorn.run(sandbox_app("tripletex", books_from_options(options), None, options), host="127.0.0.1", port=443,
            ssl_certfile=cert, ssl_keyfile=key, lifespan="off", access_log=False)
"""

# Inside the namespace: wait for a sandbox's port, then one line per GET (status and fault header).
_PROBE = f"""
import sys, time, httpx
url, n = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    try:
        httpx.get(url, timeout=10)
        break
    except httpx.ConnectError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
for _ in range(n):
    try:
        r = httpx.get(url, timeout=10)
        print(r.status_code, r.headers.get("{FAULT_HEADER}", "-"))
    except httpx.HTTPError as exc:
        print("broken", type(exc).__name__)
"""


@pytest.fixture(scope="module")
def netns() -> Iterator[Namespace]:
    """A network namespace with loopback only, where the production Tripletex host is 127.0.0.1."""
    try:
        with namespace("osrreadme", hosts={HOST: "127.0.0.1"}) as ns:
            yield ns
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the README's commands must run in CI: {exc}")
        pytest.skip(str(exc))


def _stop(proc: subprocess.Popen) -> None:
    """End ``proc``'s process group (a shell and the server it started), which this test started."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@dataclass
class Chain:
    home: Path
    books_options: dict[str, str]
    today: date
    returncode: int
    outputs: dict[str, str]
    log: str

    @property
    def books(self) -> SyntheticBooks:
        return books_from_options(self.books_options)


@pytest.fixture(scope="module")
def chain(netns: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The four blocks in one bash shell on a fresh home, as a new user types them one after another."""
    root = tmp_path_factory.mktemp("readme")
    home = root / "user"
    home.mkdir()
    today = today_in_oslo()
    # Books from 2024 to today: the report block reads 2024-12, the nightly and year-to-date windows today's.
    books_options = {"companies": "1001,1002,1003,1004", "postings": "800", "years": str(today.year - 2023),
                     "end": today.isoformat(), "consumer_token": PLACEHOLDER, "employee_token": PLACEHOLDER}
    pki = make_pki(root / "pki", (HOST,))
    # The group the report block consolidates, as "Group reporting" describes it: the README's example
    # without its eliminating company and foreign subsidiary, which this home does not have.
    text = (ROOT / "README.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text[text.index("**Group reporting.**"):], re.S)[1])
    group = example["clients"]["Acme Group"]
    (home / ".osr").mkdir(mode=0o700)
    (home / ".osr" / "consolidation.yaml").write_text(yaml.safe_dump(
        {"clients": {"Acme Group": {"currency": group["currency"], "rates": group["rates"]}}}))

    server_log = root / "tripletex.log"
    with server_log.open("wb") as log:
        server = subprocess.Popen(
            netns.command(sys.executable, "-c", _SERVE_TLS, json.dumps(books_options), str(pki["cert"]),
                   str(pki["key"])), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "Uvicorn running on https://127.0.0.1:443" not in server_log.read_text(errors="replace"):
            assert server.poll() is None and time.monotonic() < deadline, server_log.read_text(errors="replace")
            time.sleep(0.1)
        script = "set -e -o pipefail\n" + "".join(f"{readme_block(h)}echo \"{MARK} {h} ($SECONDS s)\"\n"
                                                   for h in CHAIN)
        env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(home), "LANG": "C.UTF-8",
               "SSL_CERT_FILE": str(pki["ca"])}
        done = subprocess.run(netns.command("bash", "-c", script), cwd=home, env=env, capture_output=True,
                              text=True, timeout=400)
    finally:
        _stop(server)
    pieces = re.split(rf"^{re.escape(MARK)} (.+) \(\d+ s\)\n", done.stdout, flags=re.M)
    outputs = dict(zip(pieces[1::2], pieces[0::2], strict=False))
    return Chain(home, books_options, today, done.returncode, outputs,
                 f"{done.stdout}\n{done.stderr}\n{server_log.read_text(errors='replace')}")


def _warehouse(chain: Chain) -> Warehouse:
    return Warehouse(f"sqlite:///{chain.home / '.osr' / 'warehouse.db'}")


def test_the_chain_runs_as_written(chain: Chain) -> None:
    assert chain.returncode == 0, chain.log
    assert list(chain.outputs) == list(CHAIN), chain.log


def test_connections_and_companies(chain: Chain) -> None:
    out = chain.outputs["## Connections and companies"]
    assert "connection 'acme-tt': credentials accepted, 4 companies reachable" in out
    registry = yaml.safe_load((chain.home / ".osr" / "registry.yaml").read_text())
    books = {c.erp_id: c for c in chain.books.companies()}
    assert {c["erp_id"]: c["client"] for c in registry["companies"] if c["connection"] == "acme-tt"} == {
        "1001": books["1001"].name, "1002": books["1002"].name, "1003": "Acme Group", "1004": "Acme Group"}
    (connection,) = registry["connections"]
    assert connection["credentials"] == {"consumer_token": "TT_CONSUMER", "employee_token": "TT_EMPLOYEE"}
    assert "base_url" not in connection.get("options", {})  # the production host, as a user's would be


def test_imports_land_the_erps_rows_in_each_window(chain: Chain) -> None:
    assert chain.outputs["## Imports and backfills"].count("SUCCESS") == 10, chain.log
    books, today = chain.books, chain.today
    wh = _warehouse(chain)
    everything = Window(books.start, books.end + timedelta(days=1))
    tomorrow = today + timedelta(days=1)
    this_year = Window(date(today.year, 1, 1), tomorrow)
    windows = {erp_id: [everything, this_year] for erp_id in ("1002", "1003", "1004")}
    windows["1001"] = [everything, Window(today - timedelta(days=4), tomorrow), this_year,
                       Window(date(2024, 1, 1), date(2025, 1, 1))]
    c = import_log.c
    for erp_id, expected in windows.items():
        company = f"acme-tt.{erp_id}"
        assert warehouse_rows(wh, company) == source_rows(books, erp_id, everything)
        with wh.engine.connect() as conn:
            loads = conn.execute(select(c.window_start, c.window_end, c.rows_written).where(
                c.company == company, c.dataset == "gl_postings").order_by(c.id)).all()
        assert [(s, e, n) for s, e, n in loads] == [
            (None if w is everything else w.start, None if w is everything else w.end,
             len(source_rows(books, erp_id, w))) for w in expected]


def test_warehouse_upgrade_finds_it_current(chain: Chain) -> None:
    out = chain.outputs["## What lands in the warehouse"]
    assert re.fullmatch(r"warehouse schema revision: (\w+) → \1 \(already current\)\n", out), out


def _ledger(wh: Warehouse, company: str, last: int, first: int = 0) -> dict[str, float]:
    """Debit-positive sums per account over periods ``first..last`` (YYYYMM)."""
    c = gl_postings.c
    with wh.engine.connect() as conn:
        return {a: float(s) for a, s in conn.execute(
            select(c.account, func.sum(c.amount)).where(c.company == company, c.period >= first, c.period <= last)
            .group_by(c.account))}


def _statement(account: str, ledger: float) -> float:
    """The income statement's sign: income (classes 3 and 80) positive, costs positive."""
    return round(-ledger if account.startswith(("3", "80")) else ledger, 2)


def _balance_statement(account: str, ledger: float) -> float:
    """The balance sheet's sign: assets (class 1) as the ledger has them, equity and liabilities turned."""
    return round(ledger if account.startswith("1") else -ledger, 2)


def test_reports_show_the_warehouses_sums(chain: Chain) -> None:
    out = chain.outputs["## Reports"]
    reports = chain.home / ".osr" / "reports"
    wh = _warehouse(chain)
    company = "acme-tt.1001"
    assert f"Excel {reports / 'acme-tt.1001-income-statement-2024-12.xlsx'}" in out

    month, year = _ledger(wh, company, 202412, 202412), _ledger(wh, company, 202412, 202401)
    sheet = openpyxl.load_workbook(reports / "acme-tt.1001-income-statement-2024-12.xlsx").worksheets[0]
    lines = {str(r[0]): r[2:6] for r in sheet.iter_rows(values_only=True) if isinstance(r[0], int)}
    assert set(lines) == {a for a in year if a >= "3000"}
    for account, (c_month, c_year, last_month, last_year) in lines.items():
        assert (c_month, c_year, last_month, last_year) == (
            _statement(account, month.get(account, 0.0)), _statement(account, year[account]), 0, 0), account
    result = round(-sum(v for a, v in month.items() if a >= "3000"), 2)
    html = (reports / "acme-tt.1001-income-statement-2024-12.html").read_text()
    assert float(re.search(r'Årsresultat</span><span class="amount"[^>]*data-value="([-0-9.]+)"', html)[1]) == result
    by_month = {r[0]: r[2] for r in openpyxl.load_workbook(
        reports / "acme-tt.1001-income-statement-2024-12.xlsx").worksheets[1].iter_rows(min_row=4, values_only=True)
        if r[0]}
    assert by_month["Des"] == result
    assert sum(by_month.values()) == pytest.approx(-sum(v for a, v in year.items() if a >= "3000"), abs=0.005)

    assert "consolidated balance-sheet of client 'Acme Group' for 2024-12 in NOK" in out
    names = {c.erp_id: c.name for c in chain.books.companies()}
    sheet = openpyxl.load_workbook(reports / "Acme_Group-consolidated-balance-sheet-2024-12.xlsx").worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][2:6] == (names["1003"], names["1004"], "Elimineringer", "Konsern")
    balances = {e: _ledger(wh, f"acme-tt.{e}", 202412) for e in ("1003", "1004")}
    listed = {str(r[0]): r[2:6] for r in rows if isinstance(r[0], int)}
    assert set(listed) == {a for b in balances.values() for a in b if a < "3000"}
    # The statements' signs, as for a company (--signs statement is the default): assets positive, equity and
    # liabilities positive, so the year's result is positive for a profit.
    for account, (first, second, eliminated, group) in listed.items():
        assert (first, second, eliminated) == (
            _balance_statement(account, balances["1003"].get(account, 0.0)),
            _balance_statement(account, balances["1004"].get(account, 0.0)), 0), account
        assert group == pytest.approx(first + second, abs=0.005), account
    (year_result,) = [r for r in rows if r[1] == "Årets resultat"]
    for value, erp_id in zip(year_result[2:4], ("1003", "1004"), strict=True):
        assert value == round(-sum(v for a, v in balances[erp_id].items() if a >= "3000"), 2)


def _logical_lines(block: str) -> list[str]:
    return [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_the_sandbox_block_serves_as_written(netns: Namespace, tmp_path: Path) -> None:
    """Each line's server, as written, in the background: it answers on its port, the faults as asked."""
    tripletex, poweroffice = _logical_lines(readme_block("## Sandbox"))
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    logs = [tmp_path / "tripletex.log", tmp_path / "poweroffice-go.log"]
    servers = []
    for line, log in zip((tripletex, poweroffice), logs, strict=True):
        with log.open("wb") as out:
            servers.append(subprocess.Popen(netns.command("bash", "-c", line), cwd=tmp_path, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True))
    try:
        answers = {}
        for line in (tripletex, poweroffice):
            argv = shlex.split(line, comments=True)
            port = argv[argv.index("--port") + 1]
            probe = subprocess.run(netns.command(sys.executable, "-c", _PROBE, f"http://127.0.0.1:{port}/", "40"),
                                   env=env, capture_output=True, text=True, timeout=120)
            assert probe.returncode == 0, probe.stderr
            answers[line] = [tuple(a.split()) for a in probe.stdout.splitlines()]
        assert all(s.poll() is None for s in servers)
    finally:
        for server in servers:
            _stop(server)
    assert "tripletex sandbox on http://127.0.0.1:8765 (companies 1001,1002, 200,000 postings each)" \
        in logs[0].read_text()
    assert "poweroffice-go sandbox on http://127.0.0.1:8766" in logs[1].read_text()
    faults = [a for a in answers[tripletex] if a[1] != "-"]
    assert len(answers[tripletex]) == 40 and faults, answers[tripletex]
    assert {a[1] for a in faults} <= {"429", "500", "slow", "drop", "malformed", "RemoteProtocolError"}
    assert all(a[1] == "-" and a[0].isdigit() for a in answers[poweroffice]), answers[poweroffice]


class _Parsed(Exception):
    """Raised once a benchmark's own parser accepted its line, before the benchmark does anything."""


def _bench_commands() -> list[list[str]]:
    """Every line of the README's benchmark block, ``make bench`` as the command make would run."""
    commands = []
    for line in _logical_lines(readme_block("## Benchmarks")):
        argv = shlex.split(line, comments=True)
        if argv[0] == "make":
            dry = subprocess.run(["make", "-n", *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=30)
            assert dry.returncode == 0, dry.stderr
            (made,) = [shlex.split(c) for c in dry.stdout.splitlines() if "bench/" in c]
            argv = made
        commands.append(argv)
    return commands


def test_every_benchmark_line_parses_with_its_scripts_parser(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    commands = _bench_commands()
    assert commands
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args=None, namespace=None):  # type: ignore[no-untyped-def]
        raise _Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.chdir(ROOT)
    for argv in commands:
        assert (ROOT / argv[0]).is_file(), argv
        module = argv[2] if argv[1] == "-m" else None
        script = ROOT / (f"{module.replace('.', '/')}.py" if module else argv[1])
        assert script.is_file(), argv
        args = argv[3:] if module else argv[2:]
        with monkeypatch.context() as m:
            m.setattr(sys, "argv", [str(script), *args])
            m.setattr(sys, "path", [str(ROOT if module else script.parent), *sys.path])
            try:
                runpy.run_module(module, run_name="__main__", alter_sys=True) if module else \
                    runpy.run_path(str(script), run_name="__main__")
            except _Parsed as parsed:
                namespace = vars(parsed.args[0])
            except SystemExit as exc:
                pytest.fail(f"{' '.join(argv)}: refused by its parser ({exc.code}): {capsys.readouterr().err}")
            else:
                pytest.fail(f"{' '.join(argv)}: never parsed its arguments")
        for flag, value in itertools.pairwise(args):
            if flag.startswith("--") and not value.startswith("--"):
                given = namespace[flag[2:].replace("-", "_")]
                assert value in map(str, given if isinstance(given, list) else [given]), (argv, flag, given)
