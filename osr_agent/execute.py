"""What the agent does with one request from the gateway: check its pairing key, then run it.

A request is a query from :mod:`osr_agent.queries` or a confined file read
(:mod:`osr_agent.files`). The answer is a sequence of frames: chunks of rows
(or bytes), then an end frame with the count, or an error frame saying what
went wrong in words an administrator can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import pyodbc

from osr_agent import files, odbc, protocol
from osr_agent.config import AgentConfig, DataSource
from osr_agent.queries import QueryError, company_database, resolve

log = logging.getLogger("osr_agent")
Frame = tuple[bytes, bytes]


class Refused(Exception):
    """A request the agent will not run; the message goes back to the gateway."""


def authorise(config: AgentConfig, key: object) -> DataSource:
    """The data source ``key`` pairs with, checked in constant time against the stored digest."""
    key = key if isinstance(key, str) else ""
    source = config.by_key_id(protocol.key_id(key) or "")
    if not protocol.matches(key, source.key_digest if source else None) or source is None:
        raise Refused("the pairing key was refused by the agent (regenerated or removed there?)")
    return source


def handle(config: AgentConfig, request: Mapping[str, object], chunk_rows: int = protocol.CHUNK_ROWS,
           ) -> Iterator[Frame]:
    """The frames answering ``request``; errors become one error frame, never an exception."""
    try:
        source = authorise(config, request.get("key"))
        op = request.get("op")
        if op == "query":
            yield from _query(config, source, request, chunk_rows)
        elif op == "file":
            path = files.confined(source.file_paths, request.get("root"), request.get("path"))
            size = 0
            for chunk in files.read_chunks(path, protocol.CHUNK_BYTES):
                size += len(chunk)
                yield protocol.DATA, chunk
            yield protocol.END, protocol.encode({"bytes": size})
        elif op == "within":
            path = request.get("path")
            ok = isinstance(path, str) and files.within(source.file_paths, path)
            yield protocol.DATA, protocol.encode([[ok, list(source.file_paths)]])
            yield protocol.END, protocol.encode({"rows": 1})
        else:
            raise Refused(f"unknown operation {op!r}")
    except (Refused, QueryError, files.FileRefused) as exc:
        yield protocol.ERROR, protocol.encode({"error": str(exc)})
    except pyodbc.Error as exc:
        yield protocol.ERROR, protocol.encode({"error": f"the database answered: {_odbc_message(exc)}"})
    except OSError as exc:
        yield protocol.ERROR, protocol.encode({"error": f"the file could not be read: {exc.strerror or exc}"})


def _query(config: AgentConfig, source: DataSource, request: Mapping[str, object], chunk_rows: int) -> Iterator[Frame]:
    query, params = resolve(request.get("name"), request.get("params", {}))
    password = config.password(source)
    if password is None:
        raise Refused(f"data source '{source.name}' has no SQL password on this machine: type it in again on the "
                      "agent's admin page (passwords saved on another machine cannot be read here)")
    database = source.system_database if query.database == "system" else company_database(params["company"])
    sent = 0
    conn = odbc.connect(source, database, password)
    try:
        for rows in odbc.stream(conn, query, odbc.dialect(source), query.bind(params), chunk_rows):
            sent += len(rows)
            yield protocol.DATA, protocol.encode(rows)
    finally:
        conn.close()
    log.info("data source %s: query %s on %s sent %d rows", source.name, query.name, database, sent)
    yield protocol.END, protocol.encode({"rows": sent})


def _odbc_message(exc: pyodbc.Error) -> str:
    """The driver's message without the ODBC bracket prefixes; it holds no password (ODBC never echoes one)."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return text.rsplit("]", 1)[-1].strip() or text


def test_connection(config: AgentConfig, source: DataSource, password: str | None = None) -> str:
    """Connect to the system database and count its companies: the admin page's connection test."""
    pw = config.password(source) if password is None else password
    if pw is None:
        return "no SQL password saved on this machine: type it in"
    query, _ = resolve("companies", {})
    try:
        conn = odbc.connect(source, source.system_database, pw, timeout=10)
        try:
            rows = [r for chunk in odbc.stream(conn, query, odbc.dialect(source), [], 1000) for r in chunk]
        finally:
            conn.close()
    except pyodbc.Error as exc:
        return f"failed: {_odbc_message(exc)}"
    return f"connected: {len(rows)} companies in {source.system_database}"
