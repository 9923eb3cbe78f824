"""Connecting to Visma Business's databases through ODBC and streaming a query's rows in chunks.

Production uses Microsoft's ``ODBC Driver 18 for SQL Server``::

    DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql01\\VISMA;DATABASE=F0001;UID=osr_reader;PWD={...};
    Encrypt=yes;TrustServerCertificate=no

(Windows authentication: ``Trusted_Connection=yes`` instead of ``UID``/``PWD``; the service's
account is the one SQL Server sees.) Driver 18 encrypts by default and checks
the server's certificate; ``TrustServerCertificate=yes`` is for a server with a
self-signed one. A driver whose name contains ``SQLite`` is the test stand-in:
``SERVER`` is then a folder holding ``<database>.db`` files.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyodbc

from osr_agent.config import DataSource
from osr_agent.queries import PAGE_ROWS, Query


def dialect(source: DataSource) -> str:
    return "sqlite" if "sqlite" in source.driver.lower() else "sqlserver"


def _braced(value: str) -> str:
    """An ODBC attribute value in braces, so ``;`` or ``}`` in a password cannot end it early."""
    return "{" + value.replace("}", "}}") + "}"


def connection_string(source: DataSource, database: str, password: str) -> str:
    if dialect(source) == "sqlite":
        # SQLite's driver takes no braces around a file name; ';' in the folder is refused instead.
        path = str(Path(source.server) / f"{database}.db")
        if ";" in path:
            raise ValueError(f"the folder '{source.server}' holds a ';', which an ODBC file name cannot")
        return f"DRIVER={_braced(source.driver)};DATABASE={path}"
    auth = ("Trusted_Connection=yes" if source.auth == "windows"
            else f"UID={_braced(source.login)};PWD={_braced(password)}")
    trust = "yes" if source.trust_server_certificate else "no"
    return (f"DRIVER={_braced(source.driver)};SERVER={_braced(source.server)};DATABASE={_braced(database)};"
            f"{auth};Encrypt=yes;TrustServerCertificate={trust}")


def connect(source: DataSource, database: str, password: str, timeout: int = 15) -> pyodbc.Connection:
    return pyodbc.connect(connection_string(source, database, password), timeout=timeout, readonly=True)


def stream(conn: pyodbc.Connection, query: Query, dialect_name: str, bound: Sequence[int],
           chunk_rows: int) -> Iterator[list[list]]:
    """The query's rows in chunks of at most ``chunk_rows``; keyset-paged queries read page after page.

    Rows are fetched with ``fetchmany``, so memory holds one chunk however many
    rows the query has; a paged query resumes after the last key it sent.
    """
    sql = query.statement(dialect_name)
    cursor = conn.cursor()
    if not query.keyset:
        cursor.execute(sql, *bound)
        while rows := cursor.fetchmany(chunk_rows):
            yield [list(r) for r in rows]
        return
    after: list[int] = [-1, -1]
    while True:
        keys = [after[0], after[0], after[1]]
        values = [PAGE_ROWS, *bound, *keys] if dialect_name == "sqlserver" else [*bound, *keys, PAGE_ROWS]
        cursor.execute(sql, *values)
        seen = 0
        while rows := cursor.fetchmany(chunk_rows):
            seen += len(rows)
            last = rows[-1]
            after = [last[query.keyset[0]], last[query.keyset[1]]]
            yield [list(r) for r in rows]
        if seen < PAGE_ROWS:
            return
