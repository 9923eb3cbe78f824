"""The connection types the registry accepts: one line each, the type itself declared in its ERP's folder."""

from __future__ import annotations

import importlib

from osr_pipelines.connectors.kind import ConnectorType, declare
from osr_pipelines.connectors.options import iso_date, pattern, seconds, text, whole

#: The module of each ERP that declares its type as ``KIND``, or its types as ``KINDS`` (see
#: :func:`~osr_pipelines.connectors.kind.declare`).
ERP_FACTS = (
    "osr_pipelines.connectors.tripletex.facts",
    "osr_pipelines.connectors.poweroffice.facts",
    "osr_pipelines.connectors.xledger.facts",
    "osr_pipelines.connectors.contractingworks.facts",
    "osr_pipelines.connectors.vismanet.facts",
    "osr_pipelines.connectors.visma_business_onprem.facts",
    "osr_pipelines.connectors.businessnxt.facts",
    "osr_pipelines.connectors.customerinsight.facts",
    "osr_pipelines.connectors.twentyfourseven.facts",
    "osr_pipelines.connectors.saft.facts",
)

__all__ = ["CONNECTOR_TYPES", "ConnectorType", "connector_type"]

#: The in-process source of tests and demos; its defaults are checked against the connector's by the tests.
SYNTHETIC = declare("synthetic", "osr_pipelines.connectors.synthetic", "SyntheticConnector", (
    whole("seed", 42, 0, 2**63 - 1),
    pattern("companies", r"[0-9]{1,8}(,[0-9]{1,8})*", "comma-separated company numbers (1001,1002)",
            "1001,1002,1003"),
    whole("postings", 20_000, 1, 100_000_000),
    whole("years", 3, 1, 50),
    iso_date("end"),
    text("state", what="a file path"),
    whole("batch_size", 10_000, 1, 1_000_000),
    whole("fail_after_rows", None, 0, 10**12),
    seconds("batch_delay", 0, 0, 60),
    pattern("accepted_key_sha256", r"[0-9a-f]{64}", "a SHA-256 digest (64 lower-case hex digits)"),
), credentials=(), optional_credentials=("api_key",), modes=("import", "direct"))

CONNECTOR_TYPES: dict[str, ConnectorType] = {
    t.name: t for t in (SYNTHETIC, *(kind for module in map(importlib.import_module, ERP_FACTS)
                                     for kind in getattr(module, "KINDS", None) or (module.KIND,)))}


def connector_type(name: str) -> ConnectorType:
    try:
        return CONNECTOR_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown connection type '{name}' (known: {', '.join(sorted(CONNECTOR_TYPES))})") from None
