"""The README's production setup, steps 3 to 5, run as written on PostgreSQL at the host name ``db``.

Step 2 (``pip install .``) is not run: the suite's virtual environment is that install, and a fresh
one costs minutes. Every command runs in a network namespace joined to the host by a veth link, whose
hosts file names the host's end of the link ``db``; there a small forwarder passes port 5432 on to the
suite's PostgreSQL server, which listens on loopback only. A temporary directory holding ``osr`` is
bind-mounted on ``/srv`` in a private mount namespace, so the machine's ``/srv`` is never written.
The environment block runs as written (its ``DAGSTER_PG_PASSWORD=...`` too, and its copy of
``deploy/dagster.yaml`` into ``DAGSTER_HOME``), then ``osr init``, ``osr warehouse upgrade``
(which "What lands in the warehouse" suggests right after installing) and the webserver and the daemon,
each started on its own from the checkout root, as a service would be. The roles ``osr`` and ``dagster``
and the databases ``reporting`` and ``dagster`` are created for the test and dropped after it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from dagster import __version__
from sqlalchemy.engine import make_url

from osr_pipelines.warehouse.schema import metadata
from tests.conftest import PG_URL
from tests.helpers import ROOT, readme_block
from tests.netns import Namespace, Unavailable, namespace

BIN = Path(sys.executable).parent
SECTION = "## Production setup"
#: What this test leaves on databases and roles it creates, so it only ever drops its own.
MARK = "made by the README production test; safe to drop"
DATABASES = {"reporting": "osr", "dagster": "dagster"}
WEBSERVER = "http://127.0.0.1:3000"  # dagster-webserver's defaults, which the README's command keeps

# The host side of the veth link: port 5432 passed on to the real server. PostgreSQL sees loopback
# connections, to which it grants trust, as on any machine the suite's server runs on.
_FORWARD = """
import asyncio, sys
listen, target, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()

async def serve(reader, writer):
    try:
        upstream = await asyncio.open_connection(target, port)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, upstream[1]), pipe(upstream[0], writer), return_exceptions=True)

async def main():
    server = await asyncio.start_server(serve, listen, 5432)
    print("forwarding", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

# Inside the namespace: the webserver's answers once its code location has loaded, as one JSON line.
_PROBE = """
import json, sys, time, httpx
base = sys.argv[1]
query = '''{
  version
  workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message }
      ... on RepositoryLocation { repositories { name jobs { name } } } } } } }
  instance { info runQueueConfig { maxConcurrentRuns }
    daemonHealth { allDaemonStatuses { daemonType required healthy } } }
}'''
deadline = time.monotonic() + float(sys.argv[2])
while True:
    try:
        info = httpx.get(base + "/server_info", timeout=5).json()
        data = httpx.post(base + "/graphql", json={"query": query}, timeout=10).json()["data"]
        entries = data["workspaceOrError"]["locationEntries"]
        statuses = data["instance"]["daemonHealth"]["allDaemonStatuses"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries) and all(
                s["healthy"] for s in statuses if s["required"]):
            break
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        pass
    if time.monotonic() > deadline:
        print(json.dumps({"timeout": True}))
        sys.exit(0)
    time.sleep(0.5)
print(json.dumps({"server_info": info, "graphql": data}))
"""


def _admin(database: str = "postgres", user: str | None = None) -> psycopg.Connection:
    url = make_url(PG_URL).set(drivername="postgresql", database=database)
    if user is not None:
        url = url.set(username=user, password=None)
    return psycopg.connect(url.render_as_string(False), autocommit=True, connect_timeout=10)


def _unavailable(reason: str) -> None:
    """Skip; under CI=true fail instead, since CI must run the README's commands."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the README's production setup must run in CI: {reason}")
    pytest.skip(reason)


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reap the group's leader once it exits, or it counts as a member
    try:
        os.killpg(proc.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(procs: list[subprocess.Popen]) -> None:
    """End the process groups of ``procs`` (each a namespace's shell and what it runs), which this test started:
    SIGTERM and the time a service gets to shut down, then SIGKILL for whatever is left."""
    for sig, seconds in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + seconds
        while any(_group_alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not any(_group_alive(p) for p in procs):
            break
    for proc in procs:
        proc.wait(10)


def _wait(check: Callable[[], object], seconds: float, what: str, log: Callable[[], str]) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds:.0f}s waiting for {what}\n{log()[-4000:]}")


@dataclass
class Deployment:
    root: Path
    srv: Path
    ns: str
    setup: subprocess.CompletedProcess | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    probe: dict = field(default_factory=dict)

    def shell(self, script: str) -> list[str]:
        """``script`` in bash, in the namespace, with the temporary ``/srv`` mounted in a private mount namespace."""
        prelude = f"set -e -o pipefail\nmount --bind {shlex.quote(str(self.srv))} /srv\ncd {shlex.quote(str(ROOT))}\n"
        return ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private",
                "bash", "-c", prelude + script]

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)}" for n in ("forwarder", "dagster-webserver", "dagster-daemon"))

    def stop(self) -> None:
        """The services first, then the forwarder: a daemon cut off from its database retries for seconds."""
        forwarder = self.procs.pop("forwarder", None)
        _stop([self.procs.pop(name) for name in list(self.procs)])
        _stop([forwarder] if forwarder else [])


def _steps() -> tuple[str, str, list[str]]:
    """From the README's section: the environment block, ``osr init`` and the two service commands."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start:text.index("\n## ", start + 1)]
    block = readme_block(SECTION)
    # The block is indented under item 3: the helper must find that one, not a later section's.
    assert "   ```bash\n" + block + "```" in section, block
    assert 'cp deploy/dagster.yaml "$DAGSTER_HOME"/' in block
    init = re.search(r"^4\. `([^`]+)`", section, re.M)[1]
    services = re.findall(r"`(dagster-(?:webserver|daemon)[^`]*)`", re.search(r"^5\. .*$", section, re.M)[0])
    return block, init, services


def _ensure_roles_and_databases(made: list[str]) -> None:
    """Roles ``osr`` and ``dagster`` and empty databases ``reporting`` and ``dagster``, each one made here
    added to ``made``.

    A database of either name this test did not make is someone's data: the test refuses to run then.
    """
    with _admin() as conn:
        for role in DATABASES.values():
            if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone() is None:
                conn.execute(f'CREATE ROLE "{role}" LOGIN')
                conn.execute(f"COMMENT ON ROLE \"{role}\" IS '{MARK}'")
                made.append(f"ROLE {role}")
        for name, owner in DATABASES.items():
            row = conn.execute("select shobj_description(oid, 'pg_database') from pg_database where datname = %s",
                               (name,)).fetchone()
            if row is not None and row[0] != MARK:
                _unavailable(f"database {name!r} exists on the test server and was not made by this test")
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            made.append(f"DATABASE {name}")
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
            conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{MARK}'")


def _drop(made: list[str]) -> None:
    """Databases first: a role that owns one cannot be dropped."""
    with _admin() as conn:
        for kind, name in sorted(m.split() for m in made):
            conn.execute(f'DROP {kind} IF EXISTS "{name}"' + (" WITH (FORCE)" if kind == "DATABASE" else ""))


@pytest.fixture(scope="module")
def deployment(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    missing = [tool for tool in ("ip", "unshare") if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        _unavailable(f"needs root and {', '.join(missing) or 'ip, unshare'} for network and mount namespaces")
    if not Path("/srv").is_dir():
        _unavailable("the machine has no /srv to mount the temporary /srv/osr on")
    block, init, services = _steps()
    root = tmp_path_factory.mktemp("production")
    srv = root / "srv"
    (srv / "osr").mkdir(parents=True)
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(root), "LANG": "C.UTF-8"}
    # One run of this test at a time on a server: the names `reporting` and `dagster` are fixed.
    lock = _admin()
    lock.execute("select pg_advisory_lock(hashtext('osr README production setup'))")
    made: list[str] = []
    try:
        with namespace("osrprod", link=232, host_names=("db",)) as space:
            d = Deployment(root, srv, space.name)
            try:
                _deploy(d, space, made, block + init + "\n" + readme_block("## What lands in the warehouse"),
                        {command.split()[0]: block + command for command in services}, env)
                yield d
            finally:
                d.stop()
    except Unavailable as exc:
        _unavailable(str(exc))
    finally:
        lock.close()
        _drop(made)


def _deploy(d: Deployment, space: Namespace, made: list[str], setup: str, services: dict[str, str],
            env: dict[str, str]) -> None:
    """The README's steps in ``space``: roles and databases, the forwarder to ``db``, ``setup``, then each of
    ``services`` in a shell of its own, as a service would run, and the webserver probed from inside."""
    _ensure_roles_and_databases(made)
    try:
        _admin("reporting", user="osr").close()
    except psycopg.OperationalError as exc:
        _unavailable(f"the test server does not let role osr log in without a password: {exc}")

    target = make_url(PG_URL)
    with (d.root / "forwarder.log").open("wb") as out:
        d.procs["forwarder"] = subprocess.Popen(
            [sys.executable, "-c", _FORWARD, space.host, target.host or "127.0.0.1", str(target.port or 5432)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: "forwarding" in d.log("forwarder"), 20, "the forwarder", d.logs)

    # DAGSTER_PG_PASSWORD=... is sent as the password, as written: the server trusts connections from
    # loopback (the forwarder's) and ignores it.
    d.setup = subprocess.run(d.shell(setup), env=env, capture_output=True, text=True, timeout=120)
    if d.setup.returncode != 0:
        return
    for name, script in services.items():
        with (d.root / f"{name}.log").open("wb") as out:
            d.procs[name] = subprocess.Popen(d.shell(script), env=env, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)
    probe = subprocess.run(space.command(sys.executable, "-c", _PROBE, WEBSERVER, "90"), env=env,
                           capture_output=True, text=True, timeout=120)
    d.probe = json.loads(probe.stdout or "{}") if probe.returncode == 0 else {"error": probe.stderr}


def _setup_ran(d: Deployment) -> None:
    assert d.setup is not None
    assert d.setup.returncode == 0, f"{d.setup.stdout}\n{d.setup.stderr}"


def test_steps_3_and_4_run_as_written(deployment: Deployment) -> None:
    _setup_ran(deployment)
    out = deployment.setup.stdout
    assert "created registry /srv/osr/registry.yaml" in out, out
    assert "warehouse postgresql://osr@db/reporting" in out and "Dagster home /srv/osr/dagster" in out, out
    assert re.search(r"warehouse schema revision: (\w+) → \1 \(already current\)", out), out
    config = deployment.srv / "osr" / "dagster" / "dagster.yaml"
    assert config.read_text() == (ROOT / "deploy" / "dagster.yaml").read_text()  # osr init kept the copy


def test_warehouse_tables_are_in_reporting_owned_by_osr(deployment: Deployment) -> None:
    _setup_ran(deployment)
    with _admin("reporting", user="osr") as conn:
        owners = dict(conn.execute("select tablename, tableowner from pg_tables where schemaname = 'public'"))
        assert {t: owners.get(t) for t in metadata.tables} == dict.fromkeys(metadata.tables, "osr"), owners
        assert conn.execute("select count(*) from gl_postings").fetchone() == (0,)
        (revision,) = conn.execute("select version_num from alembic_version").fetchone()
    assert revision in deployment.setup.stdout
    assert not (deployment.srv / "osr" / "warehouse.db").exists()  # the embedded SQLite warehouse


def test_dagster_storage_and_heartbeats_are_in_postgres(deployment: Deployment) -> None:
    _setup_ran(deployment)
    d = deployment

    def heartbeats() -> set[str]:
        with _admin("dagster", user="dagster") as conn:
            if conn.execute("select to_regclass('daemon_heartbeats')").fetchone() == (None,):
                return set()
            return {t for (t,) in conn.execute("select daemon_type from daemon_heartbeats")}

    # Heartbeats are kept by the run storage: rows here mean the daemon's run storage is this database.
    _wait(lambda: heartbeats() >= {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}, 60,
          "the daemon's heartbeats in database dagster", d.logs)
    with _admin("dagster", user="dagster") as conn:
        owners = dict(conn.execute("select tablename, tableowner from pg_tables where schemaname = 'public'"))
    assert {"runs", "run_tags", "event_logs", "jobs", "job_ticks", "daemon_heartbeats"} <= set(owners), owners
    assert set(owners.values()) == {"dagster"}, owners
    info = d.probe.get("graphql", {}).get("instance", {}).get("info") or ""
    assert "PostgresRunStorage" in info and "SqliteRunStorage" not in info, d.probe
    # the copied deploy/dagster.yaml is the instance both processes run on: its run queue's limit
    assert d.probe["graphql"]["instance"]["runQueueConfig"] == {"maxConcurrentRuns": 20}, d.probe
    assert not [p for p in d.srv.rglob("*") if p.suffix in (".db", ".sqlite")], "SQLite storage in DAGSTER_HOME"


def test_webserver_answers_with_the_code_location_loaded(deployment: Deployment) -> None:
    _setup_ran(deployment)
    d = deployment
    assert "graphql" in d.probe, f"{d.probe}\n{d.logs()[-6000:]}"
    assert d.probe["graphql"]["version"] == __version__, d.probe
    assert d.probe["server_info"]["dagster_version"] == __version__, d.probe["server_info"]
    (entry,) = d.probe["graphql"]["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "osr_pipelines.definitions" and entry["loadStatus"] == "LOADED", entry
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    jobs = {j["name"] for repo in location["repositories"] for j in repo["jobs"]}
    assert {"full_import", "nightly_import", "ytd_import"} <= jobs, jobs
    statuses = d.probe["graphql"]["instance"]["daemonHealth"]["allDaemonStatuses"]
    assert all(s["healthy"] for s in statuses if s["required"]), statuses
    assert not re.search(r"\bERROR\b|Traceback", d.log("dagster-daemon")), d.log("dagster-daemon")[-4000:]


def test_everything_stops_and_is_cleaned(deployment: Deployment) -> None:
    d = deployment
    groups = [p.pid for p in d.procs.values()]
    d.stop()
    for pgid in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    assert not re.search(r"\bERROR\b|Traceback", d.log("dagster-daemon")), d.log("dagster-daemon")[-4000:]
    assert not Path("/srv/osr").exists(), "the temporary /srv/osr leaked onto the machine"
    assert (d.srv / "osr" / "registry.yaml").is_file()  # what the commands wrote stayed in the temporary /srv
