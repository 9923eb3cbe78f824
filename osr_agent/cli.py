"""``osr-agent``: the agent's service and its few setup commands for servers without a browser.

It is also ``osr agent`` where the whole platform is installed; there the
agent's own dependencies are an extra, so they are imported when a command
runs and a missing one is named in one line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from osr_agent import SQL_SERVER_DRIVER

if TYPE_CHECKING:
    from osr_agent.config import AgentConfig


def _config() -> ModuleType:
    try:
        from osr_agent import config
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"the agent needs {exc.name}, which is not installed: pip install ./agent "
                                   "(or 'osr-pipelines[agent]' beside the platform)") from None
    return config


def default_folder() -> Path:
    if sys.platform == "win32":  # pragma: no cover
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "OSR Agent"
    return Path("/var/lib/osr-agent")


CONFIG = click.option("--config", "folder", type=click.Path(file_okay=False, path_type=Path),
                      envvar="OSR_AGENT_CONFIG", default=default_folder, show_default=True,
                      help="The configuration folder (OSR_AGENT_CONFIG).")


def _load(folder: Path) -> AgentConfig:
    config = _config()
    try:
        return config.AgentConfig.load(folder)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def agent() -> None:
    """The on-premise agent for Visma Business: connects out to the gateway and answers its queries."""


@agent.command()
@CONFIG
@click.option("--admin-port", default=5002, show_default=True, help="Port of the admin page (on 127.0.0.1).")
@click.option("--max-backoff", default=30.0, show_default=True, help="Longest wait between reconnects (seconds).")
def run(folder: Path, admin_port: int, max_backoff: float) -> None:
    """Run the agent: the link to the gateway and the admin page on http://127.0.0.1:5002."""
    import uvicorn

    from osr_agent.admin import HOST, admin_app
    from osr_agent.service import AgentService

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = _load(folder)
    service = AgentService(config, max_backoff=max_backoff)

    def status() -> str:
        return (f"connected to {config.gateway_url}" if service.connected
                else f"not connected to {config.gateway_url} ({service.last_error or 'connecting'})")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        server = uvicorn.Server(uvicorn.Config(admin_app(config, status, service.sources_changed), host=HOST,
                                               port=admin_port, log_level="warning", lifespan="off"))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        web = asyncio.ensure_future(server.serve())
        await service.run(stop)
        server.should_exit = True
        await web

    asyncio.run(main())


@agent.command("gateway")
@CONFIG
@click.argument("url")
@click.option("--ca-file", default="", help="PEM file of the CA the gateway's certificate must chain to.")
def gateway(folder: Path, url: str, ca_file: str) -> None:
    """Set the gateway the agent dials (wss://host/agent) and, for a private CA, its certificate."""
    if not url.startswith("wss://"):
        raise click.ClickException(f"the gateway URL must start with wss:// (TLS), not '{url}'")
    config = _load(folder)
    config.gateway_url, config.ca_file = url, ca_file
    config.save()
    click.echo(f"gateway: {url}")


@agent.command("add")
@CONFIG
@click.option("--name", required=True)
@click.option("--server", required=True, help="SQL Server: name or name\\instance.")
@click.option("--system-database", default="vbsys", show_default=True)
@click.option("--windows-auth", is_flag=True, help="Windows authentication (the service's account).")
@click.option("--login", default="")
@click.option("--password-env", default="", help="Environment variable holding the SQL password.")
@click.option("--file-path", "file_paths", multiple=True, help="A folder voucher documents may be read from.")
@click.option("--driver", default=SQL_SERVER_DRIVER, show_default=True)
def add(folder: Path, name: str, server: str, system_database: str, windows_auth: bool, login: str,
        password_env: str, file_paths: tuple[str, ...], driver: str) -> None:
    """Add a data source and print its pairing key, once."""
    config, module = _load(folder), _config()
    password = os.environ.get(password_env, "") if password_env else ""
    if not windows_auth and not password and password_env:
        raise click.ClickException(f"environment variable {password_env} is empty or not set")
    try:
        key = config.add(module.DataSource(name=name, server=server, system_database=system_database,
                                           auth="windows" if windows_auth else "sql", login=login,
                                           file_paths=file_paths, driver=driver), password)
    except module.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)


@agent.command("password")
@CONFIG
@click.argument("name")
@click.option("--password-env", required=True, help="Environment variable holding the SQL password.")
def password(folder: Path, name: str, password_env: str) -> None:
    """Type a data source's SQL password in again (after moving the folder to this machine)."""
    config = _load(folder)
    value = os.environ.get(password_env, "")
    if not value:
        raise click.ClickException(f"environment variable {password_env} is empty or not set")
    try:
        config.update(name, config.source(name), value)
    except _config().ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"data source '{name}': password saved for this machine")


@agent.command("list")
@CONFIG
def list_(folder: Path) -> None:
    """List the data sources and whether their SQL passwords can be read on this machine."""
    config = _load(folder)
    for s in config.sources:
        state = "password saved" if config.password(s) is not None else "password must be typed in again"
        click.echo(f"{s.name}\t{s.server}\t{s.system_database}\t{s.auth}\t{state}")


def main() -> None:
    agent(prog_name="osr-agent")
