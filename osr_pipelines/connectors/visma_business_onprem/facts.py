"""The ``visma-business`` connection type: Visma Business on premise, through an agent and the gateway.

Sources: docs/connectors/visma-business.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import TIMEOUT, pattern, text, url
from osr_pipelines.connectors.visma_business import org_units

DEFAULT_GATEWAY_URL = "https://127.0.0.1:8443"
CREDENTIALS = ("pairing_key",)

OPTIONS = (
    url("gateway_url", DEFAULT_GATEWAY_URL),
    # PEM file of the CA the gateway's certificate chains to; absent: the system's trusted CAs
    text("ca_file", what="a file path"),
    pattern("document_provider", r"none|document-center", "'none' or 'document-center'", "none"),
    # where Document Center keeps the voucher documents; must lie inside a file access path of the agent
    text("document_center_path", what="a folder path on the agent's server"),
    # which org units hold departments, projects and free dimensions, as for Business NXT
    *org_units.OPTIONS,
    pattern("currency", r"[A-Z]{3}", "a currency code (three capital letters)", "NOK"),
    TIMEOUT,
)

KIND = declare("visma-business", "osr_pipelines.connectors.visma_business_onprem.client", "VismaBusinessConnector",
               OPTIONS, credentials=CREDENTIALS, modes=("import", "direct"))
