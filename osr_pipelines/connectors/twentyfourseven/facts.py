"""24SevenOffice's facts, written once: its credentials, its options and where its connector lives.

Sources: docs/connectors/24sevenoffice.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, pattern, seconds, text, url, whole

#: The services live on two domains; the session cookie goes to both.
DEFAULT_BASE_URL = "https://api.24sevenoffice.com"
DEFAULT_WEBSERVICES_URL = "https://webservices.24sevenoffice.com"
#: Each domain's option and its default: a service's ``domain`` picks them.
URL_OPTIONS = {"api": "base_url", "webservices": "webservices_url"}
DEFAULT_URLS = {"api": DEFAULT_BASE_URL, "webservices": DEFAULT_WEBSERVICES_URL}
#: ``application_id`` identifies the integration (one for every customer), ``username`` (an e-mail
#: address) and ``password`` the customer's community user.
CREDENTIALS = ("application_id", "username", "password")
#: "The rate limit for API calls is 7200 requests per hour" (developer.24sevenoffice.com/faq).
RATE_LIMIT = 7200

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    url("webservices_url", DEFAULT_WEBSERVICES_URL),
    # GetTransactions has no paging: a window is read whole, so its days are bounded and split further
    # when an answer holds more than max_window_rows lines or takes longer than timeout.
    whole("window_days", 31, 1, 366),
    whole("max_window_rows", 100_000, 100, 5_000_000),
    # Per hour, shared by every run of the same user name (the limit counts per login).
    whole("rate_limit", RATE_LIMIT, 1, RATE_LIMIT),
    seconds("rate_period", 3600, 1, 86_400),
    text("rate_state_dir", what="a directory path"),
    pattern("currency", r"[A-Z]{3}", "a currency code (three capital letters)"),
    TIMEOUT,
)

KIND = declare("24sevenoffice", "osr_pipelines.connectors.twentyfourseven.client", "TwentyFourSevenConnector",
               OPTIONS, credentials=CREDENTIALS)
