"""``osr init``: the home that holds the registry, the warehouse and the Dagster instance."""

from __future__ import annotations

import click

from osr_pipelines import settings
from osr_pipelines.cli.common import warehouse
from osr_pipelines.instance import ensure_dagster_home
from osr_pipelines.registry import Customer, Group, Registry, save_registry


@click.command()
@click.option("--customer", default="Default", show_default=True, help="The top-level customer to create.")
def init(customer: str) -> None:
    """Create the home: registry, warehouse and Dagster instance (embedded defaults)."""
    home = settings.osr_home()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = settings.registry_path()
    if path.exists():
        click.echo(f"registry exists: {path}")
    else:
        save_registry(Registry(customers=[Customer(name=customer, groups=[Group(name=customer)])]), path)
        click.echo(f"created registry {path}")
    warehouse()
    click.echo(f"warehouse {settings.warehouse_url()}")
    click.echo(f"Dagster home {ensure_dagster_home()}")
