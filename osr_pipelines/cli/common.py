"""What every ``osr`` command shares: registry editing, the warehouse, errors and confirmation."""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from osr_pipelines import access, settings
from osr_pipelines.connectors.base import Connector, ConnectorError
from osr_pipelines.registry import (
    Company,
    Connection,
    DuplicateCompanyWarning,
    Registry,
    RegistryError,
    load_registry,
    save_registry,
)

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from osr_pipelines.warehouse.loader import Warehouse


def fail(message: str) -> None:
    raise click.ClickException(message)


#: ``--json`` of the commands that list or show: stable keys for scripts, instead of the aligned text.
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def company_facts(company: Company) -> dict[str, object]:
    """A company as ``--json`` output gives it (``company list``, ``connection show``)."""
    return {"key": company.key, "connection": company.connection, "erp_id": company.erp_id, "name": company.name,
            "client": company.client, "organization_number": company.organization_number,
            "detached": company.detached}


def connection_facts(connection: Connection, registry: Registry) -> dict[str, object]:
    """A connection as ``--json`` output gives it: its settings, never a secret (credentials by variable name)."""
    return {"name": connection.name, "type": connection.type, "mode": connection.mode, "level": connection.level,
            "parent": connection.parent, "private": connection.private, "owner": connection.owner,
            "nightly_days": connection.nightly_days, "history_start": connection.history_start,
            "company_count": len(registry.companies_of(connection.name))}


#: What ``pip install 'osr-pipelines[sandbox]'`` adds: the sandbox package's own imports.
_SANDBOX_MODULES = frozenset({"osr_sandbox", "starlette", "uvicorn", "graphql"})


@contextmanager
def sandbox_extra(command: str) -> Iterator[None]:
    """Around ``command``'s imports of ``osr_sandbox``: one line naming the extra when it is not installed.

    Production installs leave the sandbox out, so only the commands that serve
    one import it, inside the command, and say how to get it.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _SANDBOX_MODULES:
            raise
        raise click.ClickException(
            f"`{command}` needs the sandbox, which is not installed: pip install 'osr-pipelines[sandbox]'") from None


def read_registry(*, check_env: bool = False) -> Registry:
    """The registry, its duplicate-company warnings printed as one line each on stderr.

    Only the registry's own warnings are printed here. Anything else that warns
    while it loads (a garbage-collected connection's ResourceWarning, say) goes
    back to Python's filters: printing it here put it in front of ``--json`` output.
    """
    path = settings.registry_path()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DuplicateCompanyWarning)
            registry = load_registry(path, check_env=check_env)
        for w in caught:
            if issubclass(w.category, DuplicateCompanyWarning):
                click.secho(f"warning: {w.message}", fg="yellow", err=True)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
        return registry
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def edit_registry(arguments: Mapping[str, str] | None = None) -> Iterator[Registry]:
    """Load, let the caller change, validate and save atomically; nothing is written on error.

    A file that does not load is the file's fault ("invalid registry"). The file
    loaded valid, so a problem found on saving is the change's: it is a usage
    error, each problem naming the command's argument that made it, from
    ``arguments`` (registry field, e.g. ``parent`` or ``options``, to ``--parent``).
    """
    registry = read_registry()
    yield registry
    try:
        save_registry(registry, settings.registry_path())
    except RegistryError as exc:
        raise _change_refused(exc.problems, arguments or {}) from None


_FIELD = re.compile(r"""field ['"]([a-z_]+)""")


def _change_refused(problems: list[str], arguments: Mapping[str, str]) -> click.UsageError:
    lines = []
    for problem in problems:
        found = _FIELD.search(problem)
        argument = arguments.get(found.group(1)) if found else None
        lines.append(f"  {argument}: {problem}" if argument else f"  {problem}")
    return click.UsageError("refused, the registry is unchanged:\n" + "\n".join(lines),
                            ctx=click.get_current_context(silent=True))


def acting_name() -> str | None:
    """The user a command acts as: ``osr --as USER`` (which sets it) or ``OSR_USER``."""
    return os.environ.get("OSR_USER") or None


def may_edit(registry: Registry, connection: Connection, action: str) -> None:
    """Stop unless the acting user may ``action`` the connection; the error names who may."""
    try:
        access.check_edit(registry, acting_name(), connection, action)
    except access.AccessDenied as exc:
        fail(f"refused: {exc}")


def may_create(registry: Registry, connection: Connection) -> None:
    """Stop unless the acting user administers the place ``connection`` would sit on."""
    try:
        access.check_create(registry, acting_name(), connection)
    except access.AccessDenied as exc:
        fail(f"refused: {exc}")


def warehouse() -> Warehouse:
    """The warehouse at ``OSR_WAREHOUSE_URL``, disposed when the command ends.

    SQLAlchemy is imported here, by the commands that use it. Its pooled
    connections are closed with the command's context, so a command run in a
    longer-lived process (a test, a script) does not leave them to the collector.
    """
    from osr_pipelines.warehouse.loader import Warehouse

    wh = Warehouse(settings.warehouse_url())
    click.get_current_context().call_on_close(wh.dispose)
    return wh


def get_connection(registry: Registry, name: str) -> Connection:
    try:
        return registry.connection(name)
    except KeyError as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None


def open_connector(connection: Connection) -> Connector:
    """A connector built from the environment; a missing variable is named, its value never shown."""
    missing = [f"{field} ({var})" for field, var in connection.missing_secrets()]
    if missing:
        fail(f"connection '{connection.name}': environment variable(s) not set: {', '.join(missing)}")
    try:
        return connection.connector()
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from None


def confirm(question: str, yes: bool) -> None:
    if not yes and not click.confirm(question, default=False):
        raise click.Abort()


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """``KEY=VALUE`` arguments of the option ``what`` (``--option``) as a mapping."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}': expected KEY=VALUE", param_hint=f"'{what}'")
        out[key] = value
    return out


def purge_companies(keys: list[str]) -> None:
    """Delete companies' data, rendered reports and partitions (the registry entries are the caller's)."""
    from osr_pipelines.instance import get_instance
    from osr_pipelines.partitions import company_partitions

    wh = warehouse()
    instance = get_instance()
    for key in keys:
        wh.delete_company(key)
        forget_reports(instance, key)
        if instance.has_dynamic_partition(company_partitions.name, key):
            instance.delete_dynamic_partition(company_partitions.name, key)


def forget_reports(instance: DagsterInstance, key: str) -> None:
    """Delete a company's rendered reports: the HTML and Excel files its report materializations name, and
    the runs that materialized them, whose events hold each report's table (a direct company's only data).

    Dagster's storages cannot wipe one partition's materializations, but a report run renders one company
    (its ``dagster/partition``), so deleting the run takes exactly that company's with it; a run that also
    covered other companies is left alone.
    """
    from dagster import AssetRecordsFilter, RunsFilter

    from osr_pipelines.assets.reports import company_reports

    runs: set[str] = set()
    for asset in company_reports.keys:
        cursor = None
        while True:
            found = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=500, cursor=cursor)
            for record in found.records:
                runs.add(record.run_id)
                metadata = record.asset_materialization.metadata if record.asset_materialization else {}
                for name in ("html", "excel"):
                    path = getattr(metadata.get(name), "path", None)
                    if path:
                        Path(path).unlink(missing_ok=True)
            if not found.has_more:
                break
            cursor = found.cursor
    for run in instance.get_runs(RunsFilter(run_ids=sorted(runs))) if runs else ():
        if run.tags.get("dagster/partition") == key:
            instance.delete_run(run.run_id)
