"""Engines for a warehouse URL, and the one kind of write transaction every writer uses.

PostgreSQL goes through psycopg 3 (the loader needs its COPY). A SQLite file
holds a whole general ledger, so it is created readable by its owner only;
SQLite gives its ``-wal`` and ``-shm`` companions the main file's mode.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, make_url

from osr_pipelines.filelock import try_lock

#: Execution option naming the SQLite ``BEGIN`` mode of a transaction; readers keep the default.
SQLITE_BEGIN = "osr_sqlite_begin"


def make_engine(url: str) -> Engine:
    """An engine for the warehouse URL: psycopg 3 for PostgreSQL, WAL-mode SQLite otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    _create_private_file(parsed)
    engine = create_engine(parsed, connect_args={"timeout": 300})

    @event.listens_for(engine, "connect")
    def _sqlite_setup(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # The driver would otherwise start transactions lazily, at the first write,
        # and choose the BEGIN mode itself; _sqlite_begin chooses it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get(SQLITE_BEGIN, 'DEFERRED')}")

    return engine


def _create_private_file(url: URL) -> None:
    """Create a missing database file 0600 (and missing directories 0700) before SQLite does it 0644."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``; Python's ``hash`` changes per process."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def locked_transaction(engine: Engine, lock: str) -> Iterator[Connection]:
    """A write transaction that holds ``lock`` from its first statement until it ends.

    On PostgreSQL a transaction-scoped advisory lock named by ``lock``; commit or
    rollback releases it, so a crashed process cannot leave it held. On SQLite
    ``BEGIN IMMEDIATE`` takes the database's single write lock up front: a second
    writer waits at BEGIN (up to the busy timeout) instead of reading first and
    failing with "database is locked" when it tries to write.
    """
    with engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(lock_key(lock))))
        yield conn


@contextmanager
def company_lease(engine: Engine, company: str) -> Iterator[bool]:
    """Whether this process may import ``company`` now; held until the block ends.

    The run queue keeps one import per company for single-company runs, but a
    batch run covers a range of companies and carries no per-company tag. The
    lease makes the rule hold between any two imports, whatever launched them.
    On PostgreSQL it is a session advisory lock on an autocommit connection
    (no transaction stays open while the ERP is read), released by the server
    if the process dies; on SQLite, whose writers share one machine, an
    ``flock`` on a file beside the database.
    """
    name = f"lease:{company}"
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            held = bool(conn.execute(select(func.pg_try_advisory_lock(lock_key(name)))).scalar())
            try:
                yield held
            finally:
                if held:
                    conn.execute(select(func.pg_advisory_unlock(lock_key(name))))
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield True  # an in-memory database has a single writer
        return
    with try_lock(Path(f"{database}.leases") / f"{lock_key(name) & 0xFFFFFFFFFFFFFFFF:016x}") as held:
        yield held
