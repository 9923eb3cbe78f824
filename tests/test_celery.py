"""Import steps on two real Celery workers land exactly the rows the default executor lands.

The workers are started with the README's command and the shipped ``deploy/celery/worker.yaml``,
verbatim, against RabbitMQ (broker) and Redis (results) on loopback; the Dagster instance is the
shipped ``deploy/dagster.yaml`` on PostgreSQL. The same ``osr import full --all`` runs once with the
default executor into one warehouse and once with ``OSR_EXECUTOR=celery`` into another: the two
warehouses must hold the same rows, company by company, and both workers must have run steps.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, in_process_executor
from sqlalchemy import func, select

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.executors import import_executor
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import dimension_tables, gl_postings
from tests.conftest import ROOT, synthetic_connection, write_registry
from tests.helpers import readme_block, source_rows, warehouse_rows

BIN = Path(sys.executable).parent
BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
BACKEND = "redis://127.0.0.1:6379/0"
COMPANIES = ("1001", "1002", "1003")
IMPORT_TABLES = (gl_postings, *dimension_tables.values())
EVERYTHING = Window(date(2000, 1, 1), date.today() + timedelta(days=1))


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def broker_and_backend() -> None:
    """RabbitMQ and Redis on loopback; under CI=true their absence fails the test instead of skipping it."""
    missing = [f"{name} at 127.0.0.1:{port}" for name, port in (("RabbitMQ", 5672), ("Redis", 6379))
               if not listening(port)]
    if missing:
        reason = f"{' and '.join(missing)} not reachable: the Celery workers need a real broker and result backend"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the shell, which would otherwise count as a member
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen) -> None:
    """Stop a worker and everything it started (its Celery process and pool), warm first."""
    if _group_alive(proc):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while _group_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(proc):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def celery_workers(count: int, env: dict[str, str], logs: Path) -> Iterator[list[str]]:
    """``count`` workers started with the README's command as written; yields their names once all are ready."""
    command = readme_block("## Beyond one machine")
    started: list[tuple[subprocess.Popen, Path]] = []
    try:
        for n in range(count):
            log = logs / f"worker-{n}.log"
            with log.open("w") as out:
                started.append((subprocess.Popen(["bash", "-e", "-c", command], cwd=ROOT, env=env, stdout=out,
                                                 stderr=subprocess.STDOUT, start_new_session=True), log))
        names: list[str] = []
        deadline = time.monotonic() + 90
        while len(names) < count:
            for proc, log in started:
                assert proc.poll() is None, f"a worker exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "workers not ready after 90 s:\n" + "\n".join(
                log.read_text()[-1500:] for _, log in started)
            time.sleep(0.5)
            names = [m.group(1) for _, log in started if (m := re.search(r"(\S+@\S+) ready\.", log.read_text()))]
        yield names
    finally:
        for proc, _ in started:
            _stop(proc)


def osr_import(env: dict[str, str]) -> None:
    done = subprocess.run([BIN / "osr", "import", "full", "--all"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def contents(url: str, company: str) -> dict[str, list[tuple]]:
    """Every import table's rows of a company in key order, without the run id that loaded them."""
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            return {table.name: [tuple(row) for row in conn.execute(
                        select(*(c for c in table.c if c.name != "import_run_id"))
                        .where(table.c.company == company).order_by(*table.primary_key.columns))]
                    for table in IMPORT_TABLES}
    finally:
        wh.dispose()


def count_and_sum(url: str, company: str) -> tuple[int, str]:
    """Postings and the sum of their absolute amounts (their plain sum is zero: vouchers balance)."""
    c = gl_postings.c
    wh = Warehouse(url)
    try:
        with wh.engine.connect() as conn:
            query = select(func.count(), func.sum(func.abs(c.amount))).where(c.company == company)
            count, total = conn.execute(query).one()
    finally:
        wh.dispose()
    return count, f"{total:.2f}"


def steps_by_worker(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    """Which Celery worker executed each step of a run, from the run's own engine events."""
    executed = {}
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        metadata = entry.dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata:
            executed[metadata["step_keys"].value] = metadata["Celery worker"].value
    return executed


def test_two_celery_workers_land_the_rows_of_the_default_executor(production_env: dict[str, str], pg_database,
                                                                  tmp_path: Path, broker_and_backend: None,
                                                                  open_warehouse) -> None:
    conn = synthetic_connection(companies=",".join(COMPANIES), postings=1500)
    write_registry(tmp_path / "registry.yaml", [conn], [("demo", erp) for erp in COMPANIES])
    default_env = {k: v for k, v in production_env.items() if not k.startswith("OSR_CELERY_") and k != "OSR_EXECUTOR"}
    celery_env = {**default_env, "OSR_EXECUTOR": "celery", "OSR_CELERY_BROKER": BROKER, "OSR_CELERY_BACKEND": BACKEND,
                  "OSR_WAREHOUSE_URL": pg_database("celerywh"), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    instance = DagsterInstance.from_config(production_env["DAGSTER_HOME"])

    osr_import(default_env)
    in_process_runs = {r.run_id for r in instance.get_runs()}
    with celery_workers(2, celery_env, tmp_path) as workers:
        osr_import(celery_env)
    celery_runs = [r for r in instance.get_runs() if r.run_id not in in_process_runs]

    books = books_from_options(conn["options"])
    celery_wh = open_warehouse(celery_env["OSR_WAREHOUSE_URL"])
    for erp_id in COMPANIES:
        key = f"demo.{erp_id}"
        expected = contents(default_env["OSR_WAREHOUSE_URL"], key)
        assert len(expected["gl_postings"]) > 1000 and expected["accounts"]
        assert contents(celery_env["OSR_WAREHOUSE_URL"], key) == expected
        assert count_and_sum(celery_env["OSR_WAREHOUSE_URL"], key) == count_and_sum(
            default_env["OSR_WAREHOUSE_URL"], key)
        assert warehouse_rows(celery_wh, key) == source_rows(books, erp_id, EVERYTHING)

    # The default runs executed here; every step of the Celery runs on a worker, and both workers took steps.
    assert len(in_process_runs) == len(celery_runs) == len(COMPANIES)
    assert all(steps_by_worker(instance, run_id) == {} for run_id in in_process_runs)
    used = set()
    for run in celery_runs:
        assert run.status == DagsterRunStatus.SUCCESS
        executed = steps_by_worker(instance, run.run_id)
        succeeded = {e.step_key for e in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS)}
        assert set(executed) == succeeded == {"import_company"}  # a run is one step over its companies
        used |= set(executed.values())
    assert used == set(workers)


def test_the_executor_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OSR_EXECUTOR", "OSR_CELERY_BROKER", "OSR_CELERY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    assert import_executor() is in_process_executor

    monkeypatch.setenv("OSR_EXECUTOR", "threads")
    with pytest.raises(ValueError, match="OSR_EXECUTOR='threads'"):
        import_executor()

    monkeypatch.setenv("OSR_EXECUTOR", "celery")
    monkeypatch.setenv("OSR_CELERY_BACKEND", BACKEND)
    with pytest.raises(ValueError, match="needs OSR_CELERY_BROKER"):
        import_executor()

    monkeypatch.setenv("OSR_CELERY_BROKER", BROKER)
    assert import_executor().name == "celery"
