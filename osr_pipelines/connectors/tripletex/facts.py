"""Tripletex's facts, written once: its credentials, its options and where its connector lives.

Sources: docs/connectors/tripletex.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import RATE_RESERVE, TIMEOUT, url, whole, workers

DEFAULT_BASE_URL = "https://tripletex.no/v2"
CREDENTIALS = ("consumer_token", "employee_token")

OPTIONS = (
    url("base_url", DEFAULT_BASE_URL),
    # ``count`` per request: 1000 by default, 10 000 observed to work.
    whole("page_size", 10_000, 1, 100_000),
    # A session token expires at midnight of its expiration date, which must be after today.
    whole("session_days", 2, 1, 365),
    workers(2),
    RATE_RESERVE,
    TIMEOUT,
)

KIND = declare("tripletex", "osr_pipelines.connectors.tripletex.client", "TripletexConnector", OPTIONS,
               credentials=CREDENTIALS)
