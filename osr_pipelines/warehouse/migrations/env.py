"""Runs the revisions on the connection that ``migrate.py`` hands over, inside its locked transaction.

The caller's transaction is already open, so Alembic adds none of its own: the
revisions and the new ``alembic_version`` commit together or not at all.
"""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()
