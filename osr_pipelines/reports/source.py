"""Where a company's report gets its ledger: the warehouse for imported companies, the ERP itself for direct ones.

A direct company's ledger is asked of its ERP at the moment a report is made
and lives only as long as that report: nothing of it is written anywhere but
the rendered output.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine

from osr_pipelines.connectors.base import ConnectorError, DirectConnector
from osr_pipelines.registry import Connection, Registry
from osr_pipelines.reports import ledger
from osr_pipelines.reports.build import ledger_range
from osr_pipelines.reports.periods import current_period


class ReportError(ValueError):
    """A report cannot be made; the message names the company and what to do."""


def _direct_connector(connection: Connection, company: str) -> DirectConnector:
    missing = [f"{field} (environment variable {var})" for field, var in connection.missing_secrets()]
    if missing:
        raise ReportError(f"company '{company}': connection '{connection.name}' is direct and its credentials "
                          f"are not set: {', '.join(missing)}; set them where reports run")
    try:
        connector = connection.connector()
    except ConnectorError as exc:
        raise ReportError(f"company '{company}': {exc}") from None
    if not isinstance(connector, DirectConnector):
        connector.close()
        raise ReportError(f"company '{company}': connection '{connection.name}' is direct, but type "
                          f"'{connection.type}' cannot answer live reports; make it an import connection")
    return connector


def company_ledger(registry: Registry, engine: Engine, company: str, period: int | None,
                   today: date) -> tuple[ledger.Ledger, int, str]:
    """The ledger a report of ``period`` needs, that period, and where the ledger came from.

    Without a period, an imported company reports its latest month with
    postings and a direct company the current month.
    """
    try:
        entry = registry.company(company)
    except KeyError:
        raise ReportError(f"company '{company}' is not in the registry; list companies with `osr company list` "
                          "and use the key shown there") from None
    connection = None if entry.detached else registry.connection(entry.connection)
    if connection is not None and connection.mode == "direct":
        chosen = period or current_period(today)
        connector = _direct_connector(connection, company)
        try:
            return ledger.from_direct(connector, company, entry.erp_id, *ledger_range(chosen)), chosen, "direct"
        except ConnectorError as exc:
            raise ReportError(f"company '{company}': {exc}") from None
        finally:
            connector.close()
    if period is None:
        found = ledger.warehouse_period_range(engine, company)
        if found is None:
            raise ReportError(f"company '{company}' has no postings in the warehouse; import it first "
                              f"(osr import full --company {company}) or name a --period")
        period = found[1]
    return ledger.from_warehouse(engine, company, *ledger_range(period)), period, "warehouse"
