"""``osr gateway``: the data gateway beside Dagster, serving agents and connectors over TLS."""

from __future__ import annotations

import click


@click.command("gateway")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", default=443, show_default=True, help="Port (agents dial out to TCP 443).")
@click.option("--cert", "certfile", required=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate chain the agents check.")
@click.option("--key", "keyfile", required=True, type=click.Path(exists=True, dir_okay=False),
              help="PEM private key of the certificate.")
def gateway(host: str, port: int, certfile: str, keyfile: str) -> None:
    """Run the data gateway that on-premise agents connect to and visma-business connections query through."""
    import logging

    try:
        import uvicorn

        from osr_pipelines.gateway.app import gateway_app
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"the gateway needs {exc.name}, which is not installed: "
                                   "pip install 'osr-pipelines[gateway]'") from None

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    uvicorn.run(gateway_app(), host=host, port=port, ssl_certfile=certfile, ssl_keyfile=keyfile,
                ws="websockets-sansio", ws_max_size=32 * 1024 * 1024, log_level="warning", lifespan="off")
