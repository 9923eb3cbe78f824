"""``osr sync``: what the registry sensor holds back until a person confirms it."""

from __future__ import annotations

import click

from osr_pipelines import removal_guard
from osr_pipelines.cli.common import confirm


@click.group()
def sync() -> None:
    """The registry_sync sensor, which keeps Dagster's company partitions in step with the registry."""


@sync.command("confirm-removal")
@click.option("--yes", is_flag=True, help="Do not ask.")
def confirm_removal(yes: bool) -> None:
    """Remove the company partitions the sensor holds back (their rows stay in the warehouse).

    The sensor removes at most OSR_SYNC_MAX_REMOVE_SHARE of the partitions in one
    tick on its own; a larger loss waits here, recorded in the Dagster instance, so
    this works from any shell that reaches the daemon's instance.
    """
    from osr_pipelines.instance import get_instance

    instance = get_instance()
    record = removal_guard.held(instance)
    if record is None:
        click.echo("nothing to confirm: the registry sensor holds back no removal")
        return
    click.echo(f"The registry no longer lists these {len(record.keys)} of {record.partitions} companies "
               f"(held back since {record.since}):")
    for key in record.keys:
        click.echo(f"  {key}")
    confirm(f"Remove their {len(record.keys)} partitions from Dagster?", yes)
    removed = removal_guard.remove_held(instance, record)
    click.echo(f"removed {len(removed)} company partitions; their rows stay in the warehouse "
               "(`osr company remove KEY` deletes a company with its data)")
