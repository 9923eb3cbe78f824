"""Where things live: every path and URL comes from the environment, with embedded defaults.

``OSR_HOME`` holds the embedded setup (registry, SQLite warehouse, Dagster home);
production points ``OSR_WAREHOUSE_URL`` at PostgreSQL and ``DAGSTER_HOME`` at a
directory whose ``dagster.yaml`` uses PostgreSQL storage.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_DIR = ".osr"


def osr_home() -> Path:
    """``OSR_HOME``; else the nearest ``.osr`` home in this directory or above (``make demo`` creates one
    in the project), so a plain shell in the project finds it; else ``~/.osr``."""
    if "OSR_HOME" in os.environ:
        return Path(os.environ["OSR_HOME"]).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / HOME_DIR / "registry.yaml").is_file():
            return folder / HOME_DIR
    return (Path.home() / HOME_DIR).resolve()


def debug() -> bool:
    """``osr --debug``: show tracebacks and Dagster's own error logs."""
    return os.environ.get("OSR_DEBUG") == "1"


def registry_path() -> Path:
    return Path(os.environ.get("OSR_REGISTRY", osr_home() / "registry.yaml")).expanduser()


def warehouse_url() -> str:
    return os.environ.get("OSR_WAREHOUSE_URL") or f"sqlite:///{osr_home() / 'warehouse.db'}"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", osr_home() / "dagster")).expanduser().resolve()
