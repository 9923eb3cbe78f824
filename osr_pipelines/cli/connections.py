"""``osr connection ...``: add, inspect, rename, test and delete ERP connections.

Dagster is imported only inside the commands that touch partitions, so that
listing and showing connections stays quick.
"""

from __future__ import annotations

import click

from osr_pipelines import access
from osr_pipelines.cli.common import (
    acting_name,
    company_facts,
    confirm,
    connection_facts,
    echo_json,
    edit_registry,
    fail,
    get_connection,
    json_option,
    may_create,
    may_edit,
    open_connector,
    parse_pairs,
    purge_companies,
    read_registry,
    warehouse,
)
from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.connectors.catalog import CONNECTOR_TYPES, ConnectorType
from osr_pipelines.registry import CONNECTION_MODES, LEVELS, Connection

#: Where ``osr connection add`` keeps the ``--type`` it was given, for its help.
_TYPE_KEY = "osr.connection_type"


@click.group("connection")
def connection() -> None:
    """ERP connections: one login each, with credentials named by environment variable."""


def type_facts(ctype: ConnectorType) -> dict[str, object]:
    """A connection type as ``osr connection types --json`` gives it: modes, credential fields, options.

    A credential ``family`` (PowerOffice's ``client_key``) takes the field itself or
    ``<field>_<label>`` fields, one secret per company, at least one of them.
    """
    credentials = [{"field": name, "required": True, "family": False} for name in ctype.credentials]
    credentials += [{"field": name, "required": True, "family": True} for name in ctype.credential_families]
    credentials += [{"field": name, "required": False, "family": False} for name in ctype.optional_credentials]
    options = [{"option": spec.name, "required": spec.required, "expects": spec.expects, "default": spec.default}
               for spec in ctype.options.values()]
    return {"type": ctype.name, "modes": list(ctype.modes), "credentials": credentials, "options": options}


def _credential_text(credential: dict) -> str:
    need = "required" if credential["required"] else "optional"
    if not credential["family"]:
        return need
    field = credential["field"]
    return f"{need}: {field}, or one or more {field}_<label> fields (one secret per company)"


def _option_text(option: dict) -> str:
    return (option["expects"] + ("; required" if option["required"] else "")
            + (f"; default {option['default']}" if option["default"] is not None else ""))


def _write_type(formatter: click.HelpFormatter, ctype: ConnectorType) -> None:
    """One type's modes, credentials and options as help sections: ``connection types`` and ``add --help``."""
    facts = type_facts(ctype)
    with formatter.section(f"Type {ctype.name} (modes: {', '.join(ctype.modes)})"):
        with formatter.section("Credentials (--credential FIELD=ENV_VAR)"):
            formatter.write_dl([(c["field"], _credential_text(c)) for c in facts["credentials"]] or [("none", "")])
        with formatter.section("Options (--option KEY=VALUE)"):
            formatter.write_dl([(o["option"], _option_text(o)) for o in facts["options"]] or [("none", "")])


def _type_given(args: list[str]) -> str | None:
    """The value of ``--type`` among ``args``, before click has parsed them."""
    for n, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--type" and n + 1 < len(args):
            return args[n + 1]
        if arg.startswith("--type="):
            return arg.removeprefix("--type=")
    return None


class _AddCommand(click.Command):
    """``osr connection add``, whose ``--type T --help`` lists T's credentials and options.

    ``--help`` is answered while the arguments are parsed, before ``--type``
    has a value, so the type is read from the raw arguments first.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_TYPE_KEY] = _type_given(args)
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctype = CONNECTOR_TYPES.get(ctx.meta.get(_TYPE_KEY) or "")
        if ctype is None:
            formatter.write_paragraph()
            formatter.write_text("`osr connection add --type TYPE --help` lists that type's credentials and "
                                 "options; `osr connection types` lists every type's.")
        else:
            _write_type(formatter, ctype)


@connection.command("types")
@json_option
def types(as_json: bool) -> None:
    """Every connection type with its modes, credentials and options (kind, range, default)."""
    if as_json:
        echo_json([type_facts(CONNECTOR_TYPES[name]) for name in sorted(CONNECTOR_TYPES)])
        return
    formatter = click.HelpFormatter()
    for name in sorted(CONNECTOR_TYPES):
        _write_type(formatter, CONNECTOR_TYPES[name])
    click.echo(formatter.getvalue(), nl=False)


#: registry field -> the argument of ``osr connection add`` that sets it, for its errors
ADD_ARGUMENTS = {"name": "NAME", "type": "--type", "mode": "--mode", "level": "--level", "parent": "--parent",
                 "owner": "--owner", "credentials": "--credential", "options": "--option",
                 "nightly_days": "--nightly-days", "history_start": "--history-start"}


@connection.command("add", cls=_AddCommand)
@click.argument("name")
@click.option("--type", "erp_type", required=True, type=click.Choice(sorted(CONNECTOR_TYPES)))
@click.option("--mode", type=click.Choice(CONNECTION_MODES), default=None,
              help="import or direct [default: the type's first mode, import where it has both]")
@click.option("--level", type=click.Choice(LEVELS), default="customer", show_default=True)
@click.option("--parent", default="", help="The customer, group or client it sits on.")
@click.option("--private", is_flag=True, help="Only the owner and customer-level admins may edit it.")
@click.option("--owner", default="", help="Its owner (default: the acting user, for a private connection).")
@click.option("--credential", "credentials", multiple=True, metavar="FIELD=ENV_VAR",
              help="A credential and the environment variable holding it (never the secret itself).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="A type-specific setting.")
@click.option("--nightly-days", type=click.IntRange(1, 366), default=5, show_default=True)
@click.option("--history-start", default="2000-01-01", show_default=True, help="First day a full import reads.")
def add(name: str, erp_type: str, mode: str, level: str, parent: str, private: bool, owner: str,
        credentials: tuple[str, ...], options: tuple[str, ...], nightly_days: int, history_start: str) -> None:
    """Register a connection NAME.

    Credentials name environment variables; a variable not set in this shell is
    named in a warning, since every run reads it when it starts.
    """
    mode = mode or CONNECTOR_TYPES[erp_type].modes[0]
    added = Connection(name=name, type=erp_type, mode=mode, level=level, parent=parent, private=private,
                       owner=owner, credentials=parse_pairs(credentials, "--credential"),
                       options=parse_pairs(options, "--option"), nightly_days=nightly_days,
                       history_start=history_start)
    with edit_registry(ADD_ARGUMENTS) as reg:
        if any(c.name == name for c in reg.connections):
            fail(f"connection '{name}' already exists")
        if not parent and reg.customers:
            added.parent = {"customer": reg.customers[0].name}.get(level, "")
        if private and not owner:
            added.owner = acting_name() or ""
        may_create(reg, added)
        reg.connections.append(added)
    click.echo(f"added {mode} connection '{name}' ({erp_type}); next: osr company available {name}")
    for field, var in added.missing_secrets():
        click.secho(f"warning: credential '{field}' reads environment variable {var}, which is not set in this "
                    "shell: set it here, and for the Dagster daemon and the code server too", fg="yellow", err=True)


@connection.command("list")
@json_option
def list_(as_json: bool) -> None:
    """All connections with their mode and company count."""
    reg = read_registry()
    if as_json:
        echo_json([connection_facts(c, reg) for c in reg.connections])
        return
    if not reg.connections:
        click.echo("no connections; add one with `osr connection add`")
    for c in reg.connections:
        flags = " private" if c.private else ""
        click.echo(f"{c.name:24} {c.type:14} {c.mode:7} {c.level}:{c.parent or '-'}{flags}  "
                   f"companies={len(reg.companies_of(c.name))} nightly={c.nightly_days}d")


@connection.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """One connection's settings (credentials by variable name only)."""
    reg = read_registry()
    c = get_connection(reg, name)
    hidden = not access.may_see(reg, acting_name(), c)
    if hidden:  # a private connection's options and credential variables are its owner's and admins' business
        c.credentials, c.options = {}, {}
        click.secho(f"connection '{name}' is private: its credentials and options show only to "
                    f"{', '.join(access.who_may_edit(reg, c))}", fg="yellow", err=True)
    if as_json:
        missing = set(c.missing_secrets())
        echo_json({**connection_facts(c, reg),
                   "credentials": [{"field": field, "variable": var, "set": (field, var) not in missing}
                                   for field, var in c.credentials.items()],
                   "options": dict(c.options),
                   "companies": [company_facts(co) for co in reg.companies_of(c.name)]})
        return
    for label, value in (("name", c.name), ("type", c.type), ("mode", c.mode), ("level", f"{c.level}:{c.parent}"),
                         ("private", c.private), ("owner", c.owner or "-"),
                         ("nightly window", f"{c.nightly_days} days"), ("history start", c.history_start)):
        click.echo(f"{label:15} {value}")
    for field, var in c.credentials.items():
        state = "set" if field in c.secret_values() else "NOT SET"
        click.echo(f"{'credential':15} {field} <- ${var} ({state})")
    for key, value in c.options.items():
        click.echo(f"{'option':15} {key} = {value}")
    for co in reg.companies_of(c.name):
        click.echo(f"{'company':15} {co.key}  {co.name}  client={co.client}{'  (not updated)' if co.detached else ''}")


@connection.command("rename")
@click.argument("old")
@click.argument("new")
def rename(old: str, new: str) -> None:
    """Rename a connection, moving its companies' keys, partitions and data with it."""
    from osr_pipelines.instance import get_instance
    from osr_pipelines.partitions import company_partitions

    with edit_registry({"name": "NEW"}) as reg:
        c = get_connection(reg, old)
        may_edit(reg, c, "rename")
        if any(x.name == new for x in reg.connections):
            fail(f"connection '{new}' already exists")
        c.name = new
        moved = []
        for co in reg.companies_of(old):
            before = co.key
            co.connection = new
            moved.append((before, co.key))
    wh = warehouse()
    for before, after in moved:
        wh.rename_company(before, after, connection=new)
    instance = get_instance()
    if moved:
        # Add the new keys before the sensor runs, so it does not start a second full import.
        instance.add_dynamic_partitions(company_partitions.name, [after for _, after in moved])
        for before, _ in moved:
            if instance.has_dynamic_partition(company_partitions.name, before):
                instance.delete_dynamic_partition(company_partitions.name, before)
    click.echo(f"renamed '{old}' to '{new}' ({len(moved)} companies moved)")


@connection.command("set-private")
@click.argument("name")
@click.option("--off", is_flag=True, help="Make the connection public again.")
def set_private(name: str, off: bool) -> None:
    """Mark a connection private (or public with --off)."""
    with edit_registry() as reg:
        c = get_connection(reg, name)
        may_edit(reg, c, "edit")
        c.private = not off
        if c.private and not c.owner:
            c.owner = acting_name() or ""
    click.echo(f"connection '{name}' is now {'public' if off else 'private'}")


@connection.command("test")
@click.argument("name")
def test(name: str) -> None:
    """Check the credentials and list the companies the connection reaches."""
    c = get_connection(read_registry(), name)
    connector = open_connector(c)
    try:
        companies = connector.list_companies()
    except ConnectorError as exc:
        fail(str(exc))
    finally:
        connector.close()
    click.secho(f"connection '{name}': credentials accepted, {len(companies)} companies reachable", fg="green")
    for info in companies:
        click.echo(f"  {info.erp_id:12} {info.name}")


@connection.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(name: str, yes: bool) -> None:
    """Delete a connection. Direct: with its companies and data. Import: its companies stay, not updated."""
    reg = read_registry()
    c = get_connection(reg, name)
    may_edit(reg, c, "delete")
    companies = reg.companies_of(name)
    if c.mode == "direct":
        confirm(f"Delete direct connection '{name}' with its {len(companies)} companies and their data?", yes)
    else:
        confirm(f"Delete import connection '{name}'? Its {len(companies)} companies keep their data "
                "but are no longer updated.", yes)
    with edit_registry() as reg:
        reg.connections = [x for x in reg.connections if x.name != name]
        if c.mode == "direct":
            reg.companies = [co for co in reg.companies if co.connection != name]
        else:
            for co in reg.companies_of(name):
                co.detached = True
    keys = [co.key for co in companies]
    if c.mode == "direct":
        purge_companies(keys)
        click.echo(f"deleted connection '{name}', {len(keys)} companies and their data")
    else:
        warehouse().mark_not_updated(keys)
        click.echo(f"deleted connection '{name}'; {len(keys)} companies keep their data, no longer updated")

