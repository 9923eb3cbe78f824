"""One tenant cannot hurt another, and the CLI fails in one paragraph.

Connections are resolved per run, so names that once mapped to one Dagster
resource key stay apart, and a connection's missing secret or dead ERP fails
only its own companies. Interrupted and concurrent imports never leave a
company blocked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr, source_rows, warehouse_rows

BIN = Path(sys.executable).parent
EVERYTHING = Window(date(2000, 1, 1), date.today() + timedelta(days=1))


def instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_config(str(home / "dagster"))


def test_similar_connection_names_import_their_own_books(home: Path, warehouse_url: str) -> None:
    dash = synthetic_connection("acme-tt", companies="1001", postings="600", years="1", seed="1")
    under = synthetic_connection("acme_tt", companies="1001", postings="1500", years="1", seed="999")
    write_registry(home / "registry.yaml", [dash, under], [("acme-tt", "1001"), ("acme_tt", "1001")])

    assert "SUCCESS" in osr("import", "full", "--company", "acme-tt.1001").output

    wh = Warehouse(warehouse_url)
    expected = source_rows(books_from_options(dash["options"]), "1001", EVERYTHING)
    assert warehouse_rows(wh, "acme-tt.1001") == expected
    assert wh.count_postings("acme_tt.1001") == 0


def test_missing_secret_fails_only_its_own_connection(home: Path, warehouse_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSR_UNSET_SECRET", raising=False)
    good = synthetic_connection("good", companies="1001", postings="400", years="1")
    bad = {**synthetic_connection("bad", companies="1001", postings="400", years="1"),
           "credentials": {"api_key": "OSR_UNSET_SECRET"}}
    write_registry(home / "registry.yaml", [good, bad], [("good", "1001"), ("bad", "1001")])

    assert "SUCCESS" in osr("import", "full", "--company", "good.1001").output
    failed = osr("import", "full", "--all", ok=False).output
    assert failed.count("SUCCESS") == 1 and failed.count("FAILURE") == 1
    [line] = [ln for ln in failed.splitlines() if "OSR_UNSET_SECRET" in ln]
    assert "connection 'bad'" in line and "api_key" in line and "bad.1001" in line
    assert Warehouse(warehouse_url).count_postings("good.1001") > 100


def run_osr(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "osr", *args], capture_output=True, text=True, env=env or dict(os.environ),
                          timeout=timeout)


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_refused_host_fails_once_quickly_in_one_paragraph(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TT_C", "c")
    monkeypatch.setenv("TT_E", "e")
    dead = {"name": "dead", "type": "tripletex", "level": "customer", "parent": "Acme",
            "credentials": {"consumer_token": "TT_C", "employee_token": "TT_E"},
            "options": {"base_url": "http://127.0.0.1:9/v2"}}
    write_registry(home / "registry.yaml", [dead], [("dead", "1001")])

    done = run_osr("import", "nightly", "--company", "dead.1001")

    assert done.returncode == 1
    # the run itself, not the process start: one step finds the host dead, the others fail at once
    [record] = instance(home).get_run_records()
    seconds = (record.end_time or 0) - (record.start_time or 0)
    assert 0 < seconds < 20, f"the run took {seconds:.0f}s"
    assert "Traceback" not in done.stderr + done.stdout
    assert "127.0.0.1:9" in done.stdout and "dead.1001" in done.stdout
    assert len((done.stdout + done.stderr).strip().splitlines()) <= 6, done.stdout + done.stderr


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2024-12-31", "--to", "2024-01-01"], "--to must be on or after --from"),
    (["--from", "2024-01-01", "--to", "9999-12-31"], "before 9999-12-31"),
    (["--all"], "either --all or --company"),
])
def test_bad_import_arguments_are_one_line(home: Path, args: list[str], message: str) -> None:
    write_registry(home / "registry.yaml", [synthetic_connection()], [("demo", "1001")])
    done = run_osr("import", "ytd", "--company", "demo.1001", *args)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_full_import_refuses_a_window(home: Path) -> None:
    write_registry(home / "registry.yaml", [synthetic_connection()], [("demo", "1001")])
    done = run_osr("import", "full", "--company", "demo.1001", "--from", "2024-01-01", "--to", "2024-01-31")
    assert done.returncode != 0 and "takes no --from/--to" in done.stderr


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_import_never_blocks_its_company(home: Path, warehouse_url: str, how: signal.Signals) -> None:
    slow = synthetic_connection(companies="1001", postings="3000", years="1", batch_size="100", batch_delay="0.2")
    write_registry(home / "registry.yaml", [slow], [("demo", "1001")])
    run_osr("init")
    proc = subprocess.Popen([BIN / "osr", "import", "full", "--company", "demo.1001"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    inst = instance(home)
    deadline = time.monotonic() + 60
    while not [r for r in inst.get_runs() if r.status == DagsterRunStatus.STARTED]:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(how)
    proc.wait(30)

    [run] = inst.get_runs()
    if how == signal.SIGKILL:
        # nothing could mark it: `osr status` names it as stale, and the next import clears it itself
        assert run.status == DagsterRunStatus.STARTED
        status = run_osr("status").stdout
        assert "its osr process is gone" in status and "osr import cancel --company demo.1001" in status
    else:
        assert run.status == DagsterRunStatus.FAILURE
    assert Warehouse(warehouse_url).count_postings("demo.1001") == 0  # the load rolled back

    again = run_osr("import", "full", "--company", "demo.1001", "--allow-shrink", timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert Warehouse(warehouse_url).count_postings("demo.1001") > 1000


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_second_concurrent_import_is_skipped_with_a_hint(home: Path) -> None:
    slow = synthetic_connection(companies="1001", postings="2000", years="1", batch_size="50", batch_delay="1")
    write_registry(home / "registry.yaml", [slow], [("demo", "1001")])
    run_osr("init")
    first = subprocess.Popen([BIN / "osr", "import", "full", "--company", "demo.1001"], stdout=subprocess.PIPE,
                             text=True)
    inst = instance(home)
    deadline = time.monotonic() + 60
    while not inst.get_runs():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    second = run_osr("import", "full", "--company", "demo.1001")
    assert "SKIPPED" in second.stdout and "osr import cancel --company demo.1001" in second.stdout
    cancelled = run_osr("import", "cancel", "--company", "demo.1001")
    assert "stopped" in cancelled.stdout
    first.wait(60)
    [run] = inst.get_runs()
    assert run.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def test_everything_osr_creates_in_its_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "OSR_HOME": str(home), "OSR_REGISTRY": str(home / "registry.yaml"),
           "OSR_WAREHOUSE_URL": f"sqlite:///{home / 'warehouse.db'}", "DAGSTER_HOME": str(home / "dagster")}
    assert run_osr("init", env=env).returncode == 0
    assert run_osr("connection", "add", "demo", "--type", "synthetic", "--option", "companies=1001",
                   "--option", "postings=200", "--option", "years=1", env=env).returncode == 0
    assert run_osr("company", "add", "demo", "1001", env=env).returncode == 0
    done = run_osr("import", "full", "--company", "demo.1001", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    # the registry (every tenant), the general ledger and Dagster's run history are the owner's alone
    modes = {str(p.relative_to(home)): p.stat().st_mode & 0o777 for p in [home, *home.rglob("*")]}
    assert "warehouse.db" in modes and "registry.yaml" in modes and any(k.startswith("dagster/") for k in modes)
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert not loose


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_two_imports_on_a_new_home_both_start(home: Path) -> None:
    """Dagster creates its storage on first use; the first two ``osr`` processes must not race to create it."""
    conn = synthetic_connection(companies="1001,1002", postings="300", years="1")
    write_registry(home / "registry.yaml", [conn], [("demo", "1001"), ("demo", "1002")])
    procs = [subprocess.Popen([BIN / "osr", "import", "full", "--company", key], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for key in ("demo.1001", "demo.1002")]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all("SUCCESS" in out for out, _ in results)
