"""Whether the disks under osr's local files are full, and what that means in one line.

SQLite reports a full disk as "disk I/O error" (it cannot grow its ``-shm``
index or journal), which says nothing about what to do. The embedded home keeps
the warehouse and Dagster's storage as files, so asking the filesystem how much
room is left is both the precise diagnosis and the path to name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from osr_pipelines import settings

#: Below this much free space a disk counts as full: SQLite needs a few pages per write, Dagster a few per event.
FULL_BELOW = 1024 * 1024


@dataclass(frozen=True)
class FullDisk:
    """One full filesystem and the stores on it (Dagster's home and the SQLite warehouse often share one)."""

    stores: tuple[tuple[str, Path], ...]  # (what, path): "the warehouse", "Dagster's storage"
    free: int

    def holds(self, what: str) -> bool:
        return any(name == what for name, _ in self.stores)

    def __str__(self) -> str:
        held = " and ".join(f"{what} ({path})" for what, path in self.stores)
        return f"the disk holding {held} is full ({self.free:,} bytes free)"


def local_stores() -> dict[str, Path]:
    """osr's stores that are files here: Dagster's home always, the warehouse when it is SQLite."""
    stores = {"Dagster's storage": settings.dagster_home()}
    url = make_url(settings.warehouse_url())
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        stores["the warehouse"] = Path(url.database)
    return stores


def _filesystem(path: Path) -> tuple[int, int] | None:
    """(device, free bytes) of the filesystem of ``path``'s nearest existing ancestor; None if it cannot be told."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            try:
                stat, free = os.stat(candidate), os.statvfs(candidate)
            except OSError:
                return None
            return stat.st_dev, free.f_bavail * free.f_frsize
    return None


def full_disks() -> list[FullDisk]:
    """The full filesystems under osr's local stores, each once with the stores it holds."""
    full: dict[int, tuple[list[tuple[str, Path]], int]] = {}
    for what, path in local_stores().items():
        found = _filesystem(path)
        if found is not None and found[1] < FULL_BELOW:
            full.setdefault(found[0], ([], found[1]))[0].append((what, path))
    return [FullDisk(tuple(stores), free) for stores, free in full.values()]


def full_disk_of(what: str) -> FullDisk | None:
    """The full disk under one store (``"Dagster's storage"``, ``"the warehouse"``), if its disk is full."""
    return next((d for d in full_disks() if d.holds(what)), None)
