"""Keeps a warehouse at the schema this release expects, through the Alembic revisions in ``migrations/``.

Every ``Warehouse`` brings its database to the head revision when it opens, so an
import never meets a table from an older release. A run's steps open the
warehouse in parallel processes: the first takes the schema lock and upgrades,
the others wait for the lock, find the head and do nothing. Once at head,
opening costs one query.

To change the schema, change ``schema.py`` and add the next revision under
``migrations/versions/`` (the tests fail while the two disagree).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from osr_pipelines.warehouse.engine import locked_transaction, make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
SCHEMA_LOCK = "osr-pipelines warehouse schema"
#: The revision that matches what releases before migrations created, and its tables.
FIRST_REVISION = "0001"
FIRST_TABLES = frozenset({"gl_postings", "accounts", "departments", "projects", "customers", "suppliers",
                          "companies", "import_log"})


class SchemaError(Exception):
    """The warehouse's tables are in a state no revision describes; nothing was changed."""


def alembic_config(connection: Connection) -> Config:
    """Alembic's configuration without an ini file: the revisions ship inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str:
    """Read from the revision files once per process, so opening a current warehouse costs no file reads."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "the package ships no warehouse revisions"
    return head


def bring_to_head(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to the head revision; returns (revision before, head), before ``None`` for an empty database.

    A warehouse from before revisions existed has revision 1's tables and no
    ``alembic_version``: it is stamped with revision 1 instead of running it,
    which would try to create tables that are already there.
    """
    head = head_revision()
    if _recorded_revision(engine) == head:
        return head, head
    with locked_transaction(engine, SCHEMA_LOCK) as conn:
        # Another process may have upgraded while this one waited for the lock.
        before = MigrationContext.configure(conn).get_current_revision()
        config = alembic_config(conn)
        if before is None and _has_unversioned_tables(engine, conn):
            command.stamp(config, FIRST_REVISION)
            before = FIRST_REVISION
        _check_known(engine, before)
        if before != head:
            command.upgrade(config, "head")
    return before, head


def upgrade_warehouse(url: str) -> tuple[str | None, str]:
    """Bring the warehouse at ``url`` to the head revision; (revision before, head) for ``osr warehouse upgrade``."""
    engine = make_engine(url)
    try:
        return bring_to_head(engine)
    finally:
        engine.dispose()


def _recorded_revision(engine: Engine) -> str | None:
    """The one query an up-to-date warehouse costs on open; ``None`` when there is no version table yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None


def _has_unversioned_tables(engine: Engine, conn: Connection) -> bool:
    """Whether this is a warehouse from before migrations: all revision-1 tables present, no version table.

    Those releases created every table in one ``create_all``, so some tables
    without the others is not a state any release left behind: refuse it rather
    than guess.
    """
    present = FIRST_TABLES & set(inspect(conn).get_table_names())
    if present and present != FIRST_TABLES:
        raise SchemaError(
            f"warehouse {_shown(engine)}: it has the tables {', '.join(sorted(present))} but not "
            f"{', '.join(sorted(FIRST_TABLES - present))}, and no alembic_version table, so its schema revision "
            "cannot be told; nothing was changed. Point OSR_WAREHOUSE_URL at an empty database or at a complete "
            "warehouse, or restore the missing tables from a backup.")
    return bool(present)


def _check_known(engine: Engine, revision: str | None) -> None:
    if revision is None:
        return
    try:
        ScriptDirectory(str(MIGRATIONS)).get_revision(revision)
    except CommandError:
        raise SchemaError(
            f"warehouse {_shown(engine)}: its schema revision '{revision}' is not one this osr-pipelines "
            f"release knows (newest: {head_revision()}); a newer release has upgraded it. Install that release "
            "(or newer) instead of opening the warehouse with this one; nothing was changed.") from None


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
