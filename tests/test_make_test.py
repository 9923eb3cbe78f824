"""`make test` brings what the suite needs beyond the venv, as CI does: chromium for the report tests and a
running PostgreSQL, installed or started only when missing (``scripts/prepare-test-machine``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.helpers import ROOT

PREPARE = ROOT / "scripts" / "prepare-test-machine"


def test_make_test_prepares_the_machine_before_the_suite() -> None:
    # run inside `make test` too: a nested make would print "Entering directory" lines
    outer = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    env = {k: v for k, v in os.environ.items() if k not in outer}
    steps = subprocess.run(["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True,
                           env=env).stdout
    lines = steps.splitlines()
    assert lines[0] == "scripts/prepare-test-machine"
    assert any(line.endswith("/pytest") for line in lines[1:])
    ci = (ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in ci and "chromium" not in ci.split("set -euo pipefail", 1)[1]  # one place installs


def run_without(tools: set[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The preparation as a dry run, on a PATH holding every program of this machine but ``tools``."""
    path = tmp_path / "bin"
    path.mkdir(parents=True)
    for folder in os.environ["PATH"].split(os.pathsep):
        for program in Path(folder).glob("*") if Path(folder).is_dir() else ():
            if program.name not in tools and not (path / program.name).exists():
                (path / program.name).symlink_to(program)
    clean = {k: v for k, v in os.environ.items() if k != "OSR_TEST_PG_URL"}
    return subprocess.run([str(PREPARE), "--dry-run"], capture_output=True, text=True, timeout=120,
                          env={**clean, **env, "PATH": str(path)})


def test_a_missing_chromium_is_installed(tmp_path: Path) -> None:
    done = run_without({"chromium"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["prepare-test-machine: installing chromium", "+ apt-get update -qq",
                                        "+ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"]


def test_a_missing_postgresql_is_installed_and_started_unless_the_tests_use_another_server(tmp_path: Path) -> None:
    done = run_without({"pg_isready", "pg_ctlcluster"}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "+ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql" in done.stdout
    assert "main start" in done.stdout.splitlines()[-1]

    remote = run_without({"pg_isready", "pg_ctlcluster"}, tmp_path / "remote",
                         OSR_TEST_PG_URL="postgresql://postgres@db.example:5432/test")
    assert remote.returncode == 0 and remote.stdout == ""


def test_the_tests_database_is_created_when_the_server_lacks_it(tmp_path: Path) -> None:
    done = run_without(set(), tmp_path, OSR_TEST_PG_URL="postgresql://postgres@127.0.0.1:5432/osr_no_such_db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["prepare-test-machine: creating database osr_no_such_db",
                                        "+ createdb -h 127.0.0.1 -U postgres osr_no_such_db"]


def test_on_a_prepared_machine_it_does_nothing() -> None:
    """Here (and in CI, after `make test` ran it) everything is in place: nothing installed, nothing started."""
    done = subprocess.run([str(PREPARE)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert shutil.which("chromium")
