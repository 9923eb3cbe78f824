"""Project economics beside a company's postings: project transactions and budgets of a source that has them.

A full import replaces both whole. A nightly replaces the budgets whole (a
company has a few thousand budget line periods at most) and reads only the
project transactions created or changed since the last load began, an hour
earlier for clocks that disagree; the weekly full import catches deletions,
which the nightly cannot see.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetExecutionContext

from osr_pipelines.connectors.base import ProjectEconomics
from osr_pipelines.warehouse.loader import Warehouse

#: How far before the last load's start a nightly asks for changes.
CLOCK_MARGIN = timedelta(hours=1)


def import_project_economics(context: AssetExecutionContext, warehouse: Warehouse, source: ProjectEconomics,
                             key: str, erp_id: str, mode: str, committed: list[str]) -> None:
    """Load the company's project transactions and budgets; each load commits alone (named in ``committed``)."""
    since = warehouse.last_load_started(key, "project_transactions") if mode == "nightly" else None
    changed = None if since is None else since - CLOCK_MARGIN
    run_id = context.run.run_id
    result = warehouse.load_company_rows(key, "project_transactions",
                                         source.stream_project_transactions(erp_id, None, changed),
                                         run_id=run_id, changed_only=changed is not None)
    committed.append(f"{result.rows_written:,} project transactions")
    reported = source.project_count()
    if reported.rows is not None and reported.rows != result.rows_written:
        context.log.warning(f"{key}: {result.rows_written} project transactions loaded, but the source counted "
                            f"{reported.rows} ({reported.field}); the next full import reads them all again")
    budgets = warehouse.load_company_rows(key, "budgets", source.stream_budgets(erp_id), run_id=run_id)
    committed.append(f"{budgets.rows_written:,} budget rows")
    scope = f"created or changed since {changed:%Y-%m-%d %H:%M} UTC" if changed is not None else "all"
    context.log.info(f"{key}: {result.rows_written} project transactions ({scope}), "
                     f"{budgets.rows_written} budget rows")
