"""``osr warehouse``: maintenance of the reporting database itself."""

from __future__ import annotations

import click

from osr_pipelines import settings


@click.group("warehouse")
def warehouse_group() -> None:
    """The reporting database (OSR_WAREHOUSE_URL)."""


@warehouse_group.command()
def upgrade() -> None:
    """Bring the warehouse's tables to this release's schema.

    Imports do this themselves when they open the warehouse; run it to upgrade
    at a moment of your choosing, for instance right after installing a release.
    """
    from osr_pipelines.warehouse.migrate import SchemaError, upgrade_warehouse

    try:
        before, after = upgrade_warehouse(settings.warehouse_url())
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from None
    note = " (already current)" if before == after else ""
    click.echo(f"warehouse schema revision: {before or 'none (empty database)'} → {after}{note}")
