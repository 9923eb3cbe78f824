"""PowerOffice Go's facts, written once: its credentials, its options and where its connector lives.

Sources: docs/connectors/poweroffice-go.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, seconds, text, url, whole

DEFAULT_BASE_URL = "https://goapi.poweroffice.net/v2"
CREDENTIALS = ("application_key", "subscription_key")
#: One client key per Go client (company): ``client_key`` or ``client_key_<label>``.
CLIENT_KEY = "client_key"
#: PowerOffice's documented limit: 10 requests per second per subscription key.
RATE_LIMIT = 10
#: ``ResourceParameters.MaxPageSize``'s default, the largest ``PageSize`` PowerOffice accepts.
MAX_PAGE_SIZE = 20_000

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    url("token_url", None),
    # ``PageSize`` may not exceed ``MaxPageSize``.
    whole("page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    # Tokens last 20 minutes: renewing 20 minutes ahead would renew on every request.
    seconds("renew_before", 120, 0, 1199),
    text("rate_state_dir", what="a directory path"),
    whole("rate_limit", RATE_LIMIT, 1, 1000),
    seconds("rate_period", 1.1, 0.01, 3600),
    TIMEOUT,
)

KIND = declare("poweroffice-go", "osr_pipelines.connectors.poweroffice.client", "PowerOfficeConnector", OPTIONS,
               credentials=CREDENTIALS, credential_families=(CLIENT_KEY,))
