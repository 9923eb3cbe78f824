"""Visma.net's facts, written once: its credentials, its options and where its connector lives.

Sources: docs/connectors/visma-net.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import RATE_RESERVE, TIMEOUT, pattern, text, url, whole, workers

DEFAULT_BASE_URL = "https://api.finance.visma.net"
DEFAULT_TOKEN_URL = "https://connect.visma.com/connect/token"
DEFAULT_CONTEXT_PATH = "/API/resources/v1/context"
DEFAULT_SCOPE = "vismanet_erp_service_api:read"
CREDENTIALS = ("client_id", "client_secret")

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    url("token_url", DEFAULT_TOKEN_URL),
    text("scope", DEFAULT_SCOPE, what="an OAuth scope"),
    text("tenant_id", required=True, what="the company tenant ids (comma-separated)"),
    # empty: the tenants are the companies, without asking the context endpoint
    pattern("context_path", r"(/[!-~]*)?", "a URL path starting with '/', or nothing", DEFAULT_CONTEXT_PATH,
            invalid=("API/context", "/a b", "x\n")),
    whole("page_size", 10_000, 1, 100_000),
    # financial periods read beyond the window's, for lines posted to a neighbouring period
    whole("period_margin", 1, 0, 24),
    workers(4),
    text("ledger", what="a ledger id"),
    pattern("currency", r"[A-Z]{3}", "a currency code (three capital letters)", "NOK"),
    RATE_RESERVE,
    TIMEOUT,
)

KIND = declare("visma-net", "osr_pipelines.connectors.vismanet.client", "VismaNetConnector", OPTIONS,
               credentials=CREDENTIALS)
