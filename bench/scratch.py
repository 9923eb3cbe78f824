"""A scratch PostgreSQL database for a benchmark: made fresh, dropped when the benchmark ends, even on failure."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import make_url


@contextmanager
def scratch_database(pg_url: str, prefix: str) -> Iterator[str]:
    """Yields the URL of a new database ``<prefix>_<random>`` on ``pg_url``'s server."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_url(pg_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_url).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
