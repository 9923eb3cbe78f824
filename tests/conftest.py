"""Shared fixtures: a real PostgreSQL (one fresh database per session), SQLite files, homes and registries."""

from __future__ import annotations

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
import yaml
from dagster import DagsterInstance, instance_for_test
from sqlalchemy.engine import make_url

from osr_pipelines.instance import RUN_QUEUE
from osr_pipelines.warehouse.loader import Warehouse

PG_URL = os.environ.get("OSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# A suite started in the background (`make test &` in a script) inherits SIGINT ignored, and Dagster maps
# SIGTERM to whatever SIGINT does: every process a test starts after that would ignore SIGTERM, and no test
# could stop the servers and daemons it starts.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT.parent / "shared" / "specs"


def _admin() -> psycopg.Connection:
    return psycopg.connect(make_url(PG_URL).set(drivername="postgresql").render_as_string(False), autocommit=True)


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The PostgreSQL server; under CI=true its absence fails the suite instead of skipping."""
    try:
        with _admin() as conn:
            conn.execute("select 1")
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> Iterator[callable]:
    """A factory of fresh databases, dropped at the end of the session."""
    created: list[str] = []

    def make(prefix: str) -> str:
        name = f"osr_{prefix}_{uuid.uuid4().hex[:10]}"
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(pg_server).set(database=name).render_as_string(False)

    yield make
    with _admin() as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_database")("wh")


@pytest.fixture
def open_warehouse() -> Iterator[Callable[[str], Warehouse]]:
    """Opens warehouses that are disposed when the test ends, pass or fail.

    An engine left to the garbage collector has psycopg warn about each pooled
    connection still open, in whichever later test the collector happens to run.
    """
    opened: list[Warehouse] = []

    def open_(url: str) -> Warehouse:
        opened.append(Warehouse(url))
        return opened[-1]

    yield open_
    for wh in opened:
        wh.dispose()


@pytest.fixture
def pg_instance(pg_database) -> Iterator[DagsterInstance]:
    """A real Dagster instance on PostgreSQL storage with osr's run queue."""
    url = make_url(pg_database("dg")).set(drivername="postgresql+psycopg2").render_as_string(False)
    with instance_for_test(overrides={
        "storage": {"postgres": {"postgres_url": url}},
        "run_coordinator": RUN_QUEUE,
    }) as instance:
        yield instance


TODAY = date.today()


def synthetic_connection(name: str = "demo", *, mode: str = "import", state: Path | None = None,
                         postings: int = 3000, companies: str = "1001,1002", **options: str) -> dict:
    opts = {"companies": companies, "postings": str(postings), "years": "2", **options}
    if state is not None:
        opts["state"] = str(state)
    return {"name": name, "type": "synthetic", "mode": mode, "level": "customer", "parent": "Acme",
            "options": opts}


def write_registry(path: Path, connections: list[dict], companies: list[tuple[str, str]]) -> Path:
    """A registry with customer Acme, one group, and a client per company."""
    clients = [{"name": f"Client {conn}.{erp}"} for conn, erp in companies]
    data = {
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": clients}]}],
        "connections": connections,
        "companies": [{"connection": conn, "erp_id": erp, "name": f"Company {erp}", "client": f"Client {conn}.{erp}"}
                      for conn, erp in companies],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> Path:
    """An OSR home whose registry, warehouse and Dagster home the code under test picks up from env."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("OSR_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    return tmp_path


@pytest.fixture
def production_env(tmp_path: Path, pg_database, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``DAGSTER_HOME`` holding a verbatim copy of ``deploy/dagster.yaml``; ``DAGSTER_PG_*`` at a fresh database."""
    url = make_url(pg_database("prod"))
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "OSR_HOME": str(tmp_path),
           "OSR_REGISTRY": str(tmp_path / "registry.yaml"),
           "OSR_WAREHOUSE_URL": pg_database("prodwh"),
           "DAGSTER_PG_HOST": url.host, "DAGSTER_PG_PORT": str(url.port or 5432),
           "DAGSTER_PG_DB": url.database, "DAGSTER_PG_USER": url.username or "postgres",
           "DAGSTER_PG_PASSWORD": url.password or ""}
    env.pop("MISSING_SECRET", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
