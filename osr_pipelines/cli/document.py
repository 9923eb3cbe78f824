"""``osr document get``: a voucher's document file, read by the on-premise agent and passed on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from osr_pipelines.cli.common import fail, get_connection, open_connector, read_registry
from osr_pipelines.connectors.base import ConnectorError


@click.group("document")
def document() -> None:
    """Voucher documents, read through a connection's on-premise agent."""


@document.command("get")
@click.argument("connection_name")
@click.argument("path")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the file.")
def get(connection_name: str, path: str, output: Path) -> None:
    """Fetch PATH (relative to the connection's document-center path) into OUTPUT."""
    connection = get_connection(read_registry(), connection_name)
    connector = open_connector(connection)
    fetch = getattr(connector, "document", None)
    if fetch is None:
        fail(f"connection '{connection_name}' ({connection.type}) has no voucher documents to fetch")
    fd, tmp = tempfile.mkstemp(dir=output.parent if str(output.parent) else ".", prefix=".osr-document-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in fetch(path):
                out.write(chunk)
                size += len(chunk)
        os.replace(tmp, output)
    except ConnectorError as exc:
        fail(str(exc))
    finally:
        connector.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"{output}: {size} bytes")
