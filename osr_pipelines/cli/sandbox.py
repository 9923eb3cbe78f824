"""``osr sandbox serve``: an ERP's API on loopback over synthetic books, for demos and trials."""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from osr_pipelines.cli.common import get_connection, parse_pairs, read_registry, sandbox_extra

#: Where a sandbox serves unless told otherwise (``osr demo`` moves to a free port when it is taken).
SANDBOX_PORT = 8765
_LOOPBACK = ("127.0.0.1", "localhost")


@click.group("sandbox")
def sandbox() -> None:
    """Local stand-ins for the ERPs' APIs (same paths, envelopes, auth and limits)."""


def _port_of(connection_name: str, erp: str) -> int:
    """The loopback port a connection's ``base_url`` points at: where its sandbox must serve."""
    connection = get_connection(read_registry(), connection_name)
    if connection.type != erp:
        raise click.BadParameter(f"connection '{connection_name}' is of type {connection.type}, not {erp}",
                                 param_hint="'--from-connection'")
    url = urlsplit(connection.options.get("base_url", ""))
    if url.hostname not in _LOOPBACK or url.port is None:
        raise click.BadParameter(f"connection '{connection_name}': option 'base_url' is "
                                 f"{connection.options.get('base_url', 'not set')!r}, not a port on 127.0.0.1",
                                 param_hint="'--from-connection'")
    return url.port


@sandbox.command("serve")
@click.argument("erp")
@click.option("--port", type=int, default=None, show_default=str(SANDBOX_PORT))
@click.option("--from-connection", "connection_name", metavar="NAME",
              help="Serve on the port of connection NAME's base_url (`make dev`: the demo connection's).")
@click.option("--companies", default="1001,1002,1003", show_default=True, help="Comma-separated company ids.")
@click.option("--postings", type=int, default=100_000, show_default=True, help="Postings per company.")
@click.option("--faults", default=None, help="e.g. '429=0.05,500=0.05,slow=0.02,drop=0.02,malformed=0.02'.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="seed, years, end, state, consumer_token, employee_token, accountant, max_result_size.")
def serve(erp: str, port: int | None, connection_name: str | None, companies: str, postings: int,
          faults: str | None, options: tuple[str, ...]) -> None:
    """Serve the sandbox of ERP, a connection type such as tripletex, on 127.0.0.1:PORT until interrupted."""
    with sandbox_extra("osr sandbox serve"):
        from osr_sandbox.erps import sandbox_erp, serve_sandbox
    try:
        sandbox_erp(erp)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ERP") from None
    if port is not None and connection_name:
        raise click.UsageError("give --port or --from-connection, not both")
    if connection_name:
        port = _port_of(connection_name, erp)
    port = SANDBOX_PORT if port is None else port
    click.echo(f"{erp} sandbox on http://127.0.0.1:{port} (companies {companies}, {postings:,} postings each)")
    serve_sandbox(erp, port, companies, postings, faults, options=parse_pairs(options, "--option"))
