"""An import onto a full disk reports what was committed, and `osr status` still reads and names the full disk.

The disks are real: a tmpfs of a few megabytes mounted for the test (root, or
CAP_SYS_ADMIN, is needed; without it the tests are skipped, except under
``CI=true``, whose machine can mount). ``osr`` runs as its own process, as a user
runs it, with its output piped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from osr_pipelines.warehouse.engine import make_engine
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import import_log
from tests.conftest import synthetic_connection, write_registry

BIN = Path(sys.executable).parent
KEY = "syn.2001"
#: 50,000 postings in pages of 1,000, 50 ms each: the load lasts a few seconds after the dimensions.
BOOKS = {"companies": "2001", "postings": "50000", "years": "1", "end": "2025-12-31", "batch_size": "1000",
         "batch_delay": "0.05"}


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        reason = (f"mounting a {size} tmpfs is not permitted here ({done.stderr.strip() or done.returncode}); "
                  "the disk-full tests need root or CAP_SYS_ADMIN")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield path
    finally:
        # lazily: a SQLite handle of this process may still be open; the kernel detaches the mount now
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            with suppress(OSError):
                while os.write(fd, b"\0" * chunk):
                    pass
    finally:
        os.close(fd)
    return filler


def fill_after_dimensions(disk: Path, warehouse_url: str) -> threading.Thread:
    """Fill ``disk`` as soon as the company's dimensions are committed, while its postings are being read."""

    def watch() -> None:
        # a plain engine: opening a Warehouse would upgrade its schema, waiting for the import's own writes
        engine = make_engine(warehouse_url)
        query = select(import_log.c.id).where(import_log.c.company == KEY, import_log.c.dataset == "suppliers")
        try:
            for _ in range(1200):
                with suppress(DBAPIError), engine.connect() as conn:  # no tables until the import makes them
                    if conn.execute(query).first():
                        fill(disk)
                        return
                time.sleep(0.05)
        finally:
            engine.dispose()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def make_room(disk: Path) -> None:
    """Free the disk: the filler goes, and the disk grows to hold a whole load with room to spare."""
    (disk / "filler").unlink(missing_ok=True)
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)


def osr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "osr"), *args], capture_output=True, text=True, timeout=300, env=os.environ)


def committed(warehouse_url: str) -> int:
    wh = Warehouse(warehouse_url)
    try:
        return wh.count_postings(KEY)
    finally:
        wh.dispose()


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> Iterator[Path]:
    """``OSR_HOME`` and the Dagster home on a small tmpfs; a SQLite warehouse there too (PostgreSQL's is elsewhere).

    SQLite: 20 MB, which the load itself fills (its rows and write-ahead log take
    about 24 MB), as a large import fills a real disk. PostgreSQL: 8 MB holding
    Dagster's storage.
    """
    sqlite = warehouse_url.startswith("sqlite")
    with tmpfs(tmp_path / "disk", "20m" if sqlite else "8m") as mounted:
        url = f"sqlite:///{mounted / 'warehouse.db'}" if sqlite else warehouse_url
        for name, value in {"OSR_HOME": str(mounted), "OSR_REGISTRY": str(mounted / "registry.yaml"),
                            "DAGSTER_HOME": str(mounted / "dagster"), "OSR_WAREHOUSE_URL": url}.items():
            monkeypatch.setenv(name, value)
        write_registry(mounted / "registry.yaml", [synthetic_connection("syn", **BOOKS)], [("syn", "2001")])
        yield mounted


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_import_that_committed_onto_a_full_disk_says_imported(disk: Path) -> None:
    """The load's commit takes the disk's last bytes; Dagster's events after it cannot be written.

    SQLite only: the test cannot fill a PostgreSQL server's disk, and a Dagster
    disk that fills during the load fails the load (see the test below).
    """
    url = os.environ["OSR_WAREHOUSE_URL"]
    done = osr("import", "full", "--company", KEY)
    rows = committed(url)
    assert rows > 45_000, done.stdout + done.stderr
    dagster = disk / "dagster"

    # the outcome is what was committed, and why Dagster does not know it
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "OperationalError" not in done.stdout + done.stderr
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("  [1/1]")]
    assert f"{KEY}" in line and "SUCCESS" in line and f"{rows:,} postings" in line, done.stdout
    assert (f"imported: its {rows:,} postings were committed, but Dagster's record of the run could not be "
            f"written: the disk holding Dagster's storage ({dagster})") in done.stdout, done.stdout
    assert "committed their data but need attention" in done.stderr

    # status reads, names the full disk and still shows what the warehouse holds
    status = osr("status")
    assert status.returncode == 0, status.stderr
    assert f"the disk holding Dagster's storage ({dagster})" in status.stdout and "is full" in status.stdout
    assert f"rows={rows:,}" in status.stdout
    report = json.loads(osr("status", "--json").stdout)
    assert any("is full" in e for e in report["errors"])
    assert report["connections"][0]["companies"][0]["rows"] == rows

    # once there is room: the run Dagster could not finish is named, with the rows it committed
    make_room(disk)
    status = osr("status")
    assert "is full" not in status.stdout
    assert (f"its osr process is gone; its load had committed {rows:,} postings before Dagster could record "
            "the run's end") in status.stdout, status.stdout
    assert "syn (synthetic, import): warnings (1 of 1 companies)" in status.stdout
    again = osr("import", "full", "--company", KEY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "syn (synthetic, import): healthy" in osr("status").stdout


def test_import_that_could_not_commit_on_a_full_disk_says_so(disk: Path) -> None:
    """The disk fills while the postings are read: none of them is committed, and the outcome says why.

    SQLite: the warehouse's disk, Dagster's too. PostgreSQL: Dagster's disk, so
    the progress event the load writes fails and the load rolls back.
    """
    url = os.environ["OSR_WAREHOUSE_URL"]
    fill_after_dimensions(disk, url)
    done = osr("import", "full", "--company", KEY)
    assert committed(url) == 0
    assert done.returncode == 1 and "Traceback" not in done.stderr
    [line] = [ln for ln in done.stdout.splitlines() if ln.startswith("  [1/1]")]
    assert "FAILURE" in line, done.stdout
    assert f"nothing was committed: the disk holding Dagster's storage ({disk / 'dagster'})" in done.stdout, \
        done.stdout
    status = osr("status")
    assert status.returncode == 0 and "is full" in status.stdout and "rows=0" in status.stdout, status.stdout

    make_room(disk)
    status = osr("status")
    assert "syn (synthetic, import): failing (1 of 1 companies)" in status.stdout, status.stdout
    assert "its osr process is gone; its load, if it had begun, was rolled back" in status.stdout, status.stdout
    again = osr("import", "full", "--company", KEY)
    assert again.returncode == 0, again.stdout + again.stderr
    assert committed(url) > 45_000
