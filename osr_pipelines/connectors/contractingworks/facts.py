"""Contracting Works' facts, written once: its credentials, its options and where its connector lives.

Sources: docs/connectors/contracting-works.md.
"""

from __future__ import annotations

import dataclasses

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, pattern, url, whole

#: The only hosts the public documentation names are the external test environment's (appsettings.json of
#: ContractingWorks/ClientAPI); Contracting Works support gives a tenant's own with the credentials.
DEFAULT_AUTH_URL = "https://connect-extest.devinco.com"
DEFAULT_GRAPHQL_URL = "https://contracting-extest-clientapi-graphql.azurewebsites.net"
CREDENTIALS = ("subject_id", "api_key")

OPTIONS = (
    url("auth_url", DEFAULT_AUTH_URL),
    url("graphql_url", DEFAULT_GRAPHQL_URL),
    # seen in the client's URL, e.g. 10355-vismaosr: the <clientId> of .../client/<clientId>/graphql
    dataclasses.replace(pattern("tenant", r"[0-9]+(-[A-Za-z0-9_-]+)?",
                                "the tenant id from the client's URL (10355-vismaosr)",
                                invalid=("", "abc", "10355 x")), required=True),
    whole("page_size", 500, 1, 10_000),
    TIMEOUT,
)

KIND = declare("contracting-works", "osr_pipelines.connectors.contractingworks.client", "ContractingWorksConnector",
               OPTIONS, credentials=CREDENTIALS)
