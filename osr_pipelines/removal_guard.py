"""Company partitions the registry sensor holds back from removing until a person confirms.

A registry that suddenly lists far fewer companies is more often a damaged
file (a bad merge, an editor that saved half of it) than a decision. Removing
the partitions would hide those companies in Dagster, and the file once
restored would look like a thousand new companies. So the sensor removes at
most a share of the partitions in one tick without a word; above that it
records what it holds back in the Dagster instance and waits. The record lives
in the instance, not on the daemon's disk, because that is what the shell of
the person confirming shares with the daemon, on whatever machine each runs:
``osr sync confirm-removal`` reads it, shows it and removes those partitions.

This module imports no sensor, job or asset, so the ``osr`` command loads it quickly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import DagsterInstance

from osr_pipelines.partitions import company_partitions

SHARE_VARIABLE = "OSR_SYNC_MAX_REMOVE_SHARE"
DEFAULT_SHARE = 0.1
#: Removing this many partitions never needs a confirmation, whatever their share: a small
#: installation's ordinary edits would otherwise always ask.
ALWAYS_ALLOWED = 2
CONFIRM_COMMAND = "osr sync confirm-removal"
#: The instance's key-value store (where Dagster's daemons keep their cursors) holds the record.
_KEY = "osr/registry_sync/held_removal"


def max_share() -> float:
    """The share of company partitions one tick may remove unconfirmed, from ``OSR_SYNC_MAX_REMOVE_SHARE``."""
    raw = os.environ.get(SHARE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_SHARE
    try:
        share = float(raw)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise ValueError(f"environment variable {SHARE_VARIABLE} must be a number from 0 to 1 (the share of "
                         f"company partitions one sensor tick may remove unconfirmed), not {raw!r}")
    return share


def needs_confirmation(removing: int, partitions: int, share: float) -> bool:
    return removing > ALWAYS_ALLOWED and removing > share * partitions


@dataclass(frozen=True)
class HeldRemoval:
    """The partitions a tick did not remove, out of how many, and since when (ISO time, UTC)."""

    keys: tuple[str, ...]
    partitions: int
    since: str


def held(instance: DagsterInstance) -> HeldRemoval | None:
    raw = instance.run_storage.get_cursor_values({_KEY}).get(_KEY)
    if not raw:
        return None
    data = json.loads(raw)
    return HeldRemoval(tuple(data["keys"]), data["partitions"], data["since"])


def hold(instance: DagsterInstance, keys: list[str], partitions: int) -> HeldRemoval:
    """Record what a tick holds back; a record of the same keys keeps its first time."""
    previous = held(instance)
    since = previous.since if previous and previous.keys == tuple(keys) else datetime.now(UTC).isoformat(
        timespec="seconds")
    record = HeldRemoval(tuple(keys), partitions, since)
    if record != previous:
        instance.run_storage.set_cursor_values(
            {_KEY: json.dumps({"keys": keys, "partitions": partitions, "since": since})})
    return record


def release(instance: DagsterInstance) -> None:
    """Forget a held removal: the registry lists those companies again, or they were removed."""
    if held(instance) is not None:
        instance.run_storage.set_cursor_values({_KEY: ""})


def remove_held(instance: DagsterInstance, record: HeldRemoval) -> list[str]:
    """Remove the partitions of a held removal that still exist; the warehouse's rows stay."""
    removed = [key for key in record.keys if instance.has_dynamic_partition(company_partitions.name, key)]
    for key in removed:
        instance.delete_dynamic_partition(company_partitions.name, key)
    release(instance)
    return removed


def describe(keys: list[str] | tuple[str, ...], limit: int = 10) -> str:
    """``a.1, a.2, ... and 40 more``: a log line names the partitions without growing without bound."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
