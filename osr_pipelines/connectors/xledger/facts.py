"""Xledger's facts, written once: its credential, its options and where its connector lives.

Sources: docs/connectors/xledger.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, pattern, slot, text, url, whole

DEFAULT_BASE_URL = "https://www.xledger.net/graphql"
CREDENTIALS = ("token",)
MAX_PAGE = 10_000  # "Xledger's API has a limit of 10000 records per query"
#: The default of option ``posted_date_filter``: the header's posting date flattened with the
#: ``header`` prefix, the way Xledger names header fields in filters (``headerTransactionSourceDbId_in``
#: on ``arTransactions``). A guess: no published material shows a posting-date filter on ``transactions``.
POSTED_DATE_FILTER = "headerPostedDate"

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    text("entity", what="an entity code"),
    whole("page_size", MAX_PAGE, 1, MAX_PAGE),
    slot("department_object", 1),
    slot("project_object", 2),
    whole("department_kind", 1, 1, 2**31 - 1),
    pattern("posted_date_filter", r"[_A-Za-z][_0-9A-Za-z]*", "a GraphQL filter field name", POSTED_DATE_FILTER),
    whole("rate_retries", 10, 0, 100),
    TIMEOUT,
)

KIND = declare("xledger", "osr_pipelines.connectors.xledger.client", "XledgerConnector", OPTIONS,
               credentials=CREDENTIALS)
