"""``osr company ...``: discover, add, list and remove companies of a connection."""

from __future__ import annotations

import click

from osr_pipelines.cli.common import (
    company_facts,
    confirm,
    echo_json,
    edit_registry,
    fail,
    get_connection,
    json_option,
    may_edit,
    open_connector,
    purge_companies,
    read_registry,
)
from osr_pipelines.connectors.base import CompanyInfo, ConnectorError
from osr_pipelines.duplicates import duplicates
from osr_pipelines.registry import Company, Connection, Registry


@click.group("company")
def company() -> None:
    """Companies reachable through connections; each is a Dagster partition."""


def _available(connection: Connection) -> list[CompanyInfo]:
    connector = open_connector(connection)
    try:
        return connector.list_companies()
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        connector.close()


@company.command("available")
@click.argument("connection_name")
def available(connection_name: str) -> None:
    """Companies the connection reaches, marking those already added."""
    reg = read_registry()
    conn = get_connection(reg, connection_name)
    added = {co.erp_id for co in reg.companies_of(connection_name)}
    for info in _available(conn):
        note = f"  ({info.note})" if info.note else ""
        click.echo(f"{'*' if info.erp_id in added else ' '} {info.erp_id:12} {info.name}{note}")


@company.command("add")
@click.argument("connection_name")
@click.argument("erp_ids", nargs=-1)
@click.option("--all", "add_all", is_flag=True, help="Add every available company.")
@click.option("--client", default=None, help="Link all added companies to this client (group reporting).")
@click.option("--yes", is_flag=True, help="Add companies another connection already imports without asking.")
def add(connection_name: str, erp_ids: tuple[str, ...], add_all: bool, client: str | None, yes: bool) -> None:
    """Add companies of CONNECTION_NAME by ERP id; each links to a client of its own name unless --client."""
    reg = read_registry()
    conn = get_connection(reg, connection_name)
    may_edit(reg, conn, "add companies to")
    if not erp_ids and not add_all:
        fail("name ERP company ids to add, or --all (see `osr company available`)")
    found = {info.erp_id: info for info in _available(conn)}
    wanted = list(found) if add_all else list(erp_ids)
    unknown = [i for i in wanted if i not in found]
    if unknown:
        fail(f"connection '{connection_name}': field 'erp_id': not reachable: {', '.join(unknown)}")
    _confirm_duplicates(reg, connection_name, [found[i] for i in wanted], yes)
    added = []
    with edit_registry({"client": "--client"} if client else None) as reg:
        conn = reg.connection(connection_name)
        existing = {co.erp_id: co for co in reg.companies_of(connection_name)}
        for erp_id in wanted:
            number = found[erp_id].organization_number or ""
            if erp_id in existing:
                # a company added before its organisation number was kept gets it now
                existing[erp_id].organization_number = existing[erp_id].organization_number or number
                continue
            name = found[erp_id].name
            client_name = client or name
            reg.ensure_client(client_name, conn)
            co = Company(connection=connection_name, erp_id=erp_id, name=name, client=client_name,
                         organization_number=number)
            reg.companies.append(co)
            added.append(co)
    for co in added:
        click.echo(f"added {co.key}  {co.name}  (client {co.client})")
    if added and conn.mode == "import":
        click.echo("the registry sensor adds their partitions and starts their full imports; "
                   "without a running daemon: osr import full " + " ".join(f"--company {co.key}" for co in added))


def _confirm_duplicates(reg: Registry, connection_name: str, infos: list[CompanyInfo], yes: bool) -> None:
    """Warn about companies another connection already imports, and let the user cancel."""
    held = {co.erp_id for co in reg.companies_of(connection_name)}
    candidates = [Company(connection=connection_name, erp_id=info.erp_id, name=info.name, client="",
                          organization_number=info.organization_number or "")
                  for info in infos if info.erp_id not in held]
    found = duplicates(reg, candidates)
    if not found:
        return
    for duplicate in found:
        click.secho(f"warning: {duplicate.line()}", fg="yellow", err=True)
    confirm(f"Add {'it' if len(found) == 1 else 'them'} anyway (both connections would import it)?", yes)


@company.command("list")
@json_option
def list_(as_json: bool) -> None:
    """Every registered company with its connection and client."""
    reg = read_registry()
    if as_json:
        echo_json([company_facts(co) for co in reg.companies])
        return
    for co in reg.companies:
        note = "  (connection deleted: not updated)" if co.detached else ""
        click.echo(f"{co.key:28} {co.name:32} client={co.client}{note}")


@company.command("remove")
@click.argument("keys", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(keys: tuple[str, ...], yes: bool) -> None:
    """Remove companies with their partitions and all their imported data."""
    reg = read_registry()
    known = {co.key for co in reg.companies}
    unknown = [k for k in keys if k not in known]
    if unknown:
        fail(f"no such company: {', '.join(unknown)}")
    for co in reg.companies:
        if co.key in keys and not co.detached:
            may_edit(reg, get_connection(reg, co.connection), "remove companies of")
    confirm(f"Remove {len(keys)} companies and delete all their imported data?", yes)
    with edit_registry() as reg:
        reg.companies = [co for co in reg.companies if co.key not in keys]
    purge_companies(list(keys))
    click.echo(f"removed {len(keys)} companies and their data")
