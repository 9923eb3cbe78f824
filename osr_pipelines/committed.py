"""What the warehouse committed: the record an import's reported outcome must agree with.

Dagster's event log says what a run *reported*; the warehouse's ``import_log``
row is written in the same transaction as the rows themselves, so it says what
was *committed*. They part when Dagster cannot write its events (a full disk,
a process killed between the commit and the event): then the data is there and
Dagster does not know it, and only the warehouse can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from osr_pipelines import settings
from osr_pipelines.warehouse.loader import ENTERED, Warehouse
from osr_pipelines.warehouse.schema import import_log


@dataclass(frozen=True)
class PostingsLoad:
    log_id: int
    run_id: str | None
    rows: int


def postings_load(company: str, run_id: str | None = None, wh: Warehouse | None = None) -> PostingsLoad | None:
    """The company's latest committed postings load (of run ``run_id``, if given); None if none, or unreadable.

    Unreadable is not an error here: this only ever corrects what Dagster
    reported, and a warehouse that cannot be read leaves Dagster's word standing.
    """
    log = import_log.c
    query = (select(log.id, log.run_id, log.rows_written)
             .where(log.company == company, log.dataset == "gl_postings", log.mode != ENTERED)
             .order_by(log.id.desc()).limit(1))
    if run_id is not None:
        query = query.where(log.run_id == run_id)
    own = wh is None
    try:
        wh = wh or Warehouse(settings.warehouse_url())
    except Exception:  # any failure to open means "cannot tell"
        return None
    try:
        with wh.engine.connect() as conn:
            row = conn.execute(query).first()
    except Exception:
        return None
    finally:
        if own:
            wh.dispose()
    return PostingsLoad(row.id, row.run_id, row.rows_written) if row else None
