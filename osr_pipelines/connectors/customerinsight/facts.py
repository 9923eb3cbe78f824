"""Customer Insight's facts: no credentials (no public API was found), an export file and the company's name.

Sources: docs/connectors/customer-insight.md. The level and one-company rules
live in the registry (``SINGLE_COMPANY_TYPES``), where every change is checked.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import text

OPTIONS = (
    text("export", required=True, what="the path of the export file (CSV)"),
    # the client and company get this name, so that reports and the UI show what people call the customer
    text("company_name", required=True, what="the company's name, as people know it"),
)

KIND = declare("customer-insight", "osr_pipelines.connectors.customerinsight.client", "CustomerInsightConnector",
               OPTIONS, credentials=())
