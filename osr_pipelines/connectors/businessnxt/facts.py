"""Business NXT's facts, written once: its two connection types, their credentials and options.

``business-nxt`` is direct (reports ask Business NXT live) and
``business-nxt-group`` imports (group reporting); both use one connector.
Only the group type puts several companies under one client. Sources:
docs/connectors/business-nxt.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, pattern, text, url, whole
from osr_pipelines.connectors.visma_business import org_units

#: The service-context endpoint (client credentials); ``/api/graphql`` is the user context.
DEFAULT_BASE_URL = "https://business.visma.net/api/graphql-service"
DEFAULT_TOKEN_URL = "https://connect.visma.com/connect/token"
#: The read-only variant of the service scope: reading the ledger needs no write access.
DEFAULT_SCOPE = "business-graphql-service-api:access-group-based-readonly"
CREDENTIALS = ("client_id", "client_secret")
#: "600 per minute (per Authorization token)" and "Concurrent requests allowed: 60" per company.
REQUESTS_PER_MINUTE = 600
CONCURRENT_PER_COMPANY = 60

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    url("token_url", DEFAULT_TOKEN_URL),
    text("scope", DEFAULT_SCOPE, what="an OAuth scope"),
    # Visma Connect's tenant, sent with the token request only when set: public Business NXT clients omit it
    text("tenant_id", what="a Visma Connect tenant id"),
    # only the companies of this Visma.net customer, of all the service user reaches
    pattern("customer", r"[0-9]{1,12}", "a Visma.net customer id (digits)"),
    whole("page_size", 1000, 1, 10_000),
    *org_units.OPTIONS,
    pattern("currency", r"[A-Z]{3}", "a currency code (three capital letters)", "NOK"),
    # groups a direct report's aggregate query may answer: more fail the report rather than cut it short
    whole("group_limit", 100_000, 1, 10_000_000),
    whole("requests_per_minute", REQUESTS_PER_MINUTE, 1, REQUESTS_PER_MINUTE),
    whole("concurrent_requests", CONCURRENT_PER_COMPANY, 1, CONCURRENT_PER_COMPANY),
    TIMEOUT,
)

_MODULE, _CLASS = "osr_pipelines.connectors.businessnxt.client", "BusinessNxtConnector"

#: Both types; the catalog lists a module's ``KINDS`` when it declares more than one.
KINDS = (
    declare("business-nxt", _MODULE, _CLASS, OPTIONS, credentials=CREDENTIALS, modes=("direct",),
            companies_per_client=1),
    declare("business-nxt-group", _MODULE, _CLASS, OPTIONS, credentials=CREDENTIALS),
)
