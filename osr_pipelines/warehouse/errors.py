"""What a database error means to the person reading it: a lost connection or a full disk, in one line.

SQLAlchemy's own text is two or three lines with the driver's class and a link
to its documentation; neither tells a data engineer what happened to the data.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

#: Fragments of driver messages that mean the disk is full (SQLite, PostgreSQL).
_DISK_FULL = ("database or disk is full", "disk i/o error", "no space left on device", "could not extend file")


def warehouse_failure(exc: BaseException) -> str | None:
    """One line for a database error whose cause is the database's connection or disk, else None."""
    if not isinstance(exc, DBAPIError):
        return None
    text = str(exc.orig if exc.orig is not None else exc).lower()
    if any(fragment in text for fragment in _DISK_FULL):
        # Dagster's own storage (SQLite) raises the same errors, so the disk is not said to be the warehouse's
        return "a disk is full (the warehouse's, or Dagster's storage); free space and import again"
    if exc.connection_invalidated or "terminating connection" in text or "server closed the connection" in text:
        return "the warehouse connection was lost"
    return None
