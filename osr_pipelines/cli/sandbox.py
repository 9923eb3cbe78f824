"""``osr sandbox serve``: an ERP's API on loopback over synthetic books, for demos and trials."""

from __future__ import annotations

import click

from osr_pipelines.cli.common import parse_pairs, sandbox_extra


@click.group("sandbox")
def sandbox() -> None:
    """Local stand-ins for the ERPs' APIs (same paths, envelopes, auth and limits)."""


@sandbox.command("serve")
@click.argument("erp")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--companies", default="1001,1002,1003", show_default=True, help="Comma-separated company ids.")
@click.option("--postings", type=int, default=100_000, show_default=True, help="Postings per company.")
@click.option("--faults", default=None, help="e.g. '429=0.05,500=0.05,slow=0.02,drop=0.02,malformed=0.02'.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="seed, years, end, state, consumer_token, employee_token, accountant, max_result_size.")
def serve(erp: str, port: int, companies: str, postings: int, faults: str | None, options: tuple[str, ...]) -> None:
    """Serve the sandbox of ERP, a connection type such as tripletex, on 127.0.0.1:PORT until interrupted."""
    with sandbox_extra("osr sandbox serve"):
        from osr_sandbox.erps import sandbox_erp, serve_sandbox
    try:
        sandbox_erp(erp)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ERP") from None
    click.echo(f"{erp} sandbox on http://127.0.0.1:{port} (companies {companies}, {postings:,} postings each)")
    serve_sandbox(erp, port, companies, postings, faults, options=parse_pairs(options, "--option"))
