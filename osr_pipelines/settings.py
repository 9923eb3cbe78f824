"""Where things live: every path and URL comes from the environment, with embedded defaults.

``OSR_HOME`` holds the embedded setup (registry, SQLite warehouse, Dagster home);
production points ``OSR_WAREHOUSE_URL`` at PostgreSQL and ``DAGSTER_HOME`` at a
directory whose ``dagster.yaml`` uses PostgreSQL storage.
"""

from __future__ import annotations

import os
from pathlib import Path


def osr_home() -> Path:
    return Path(os.environ.get("OSR_HOME", Path.home() / ".osr")).expanduser().resolve()


def registry_path() -> Path:
    return Path(os.environ.get("OSR_REGISTRY", osr_home() / "registry.yaml")).expanduser()


def warehouse_url() -> str:
    return os.environ.get("OSR_WAREHOUSE_URL") or f"sqlite:///{osr_home() / 'warehouse.db'}"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", osr_home() / "dagster")).expanduser().resolve()
