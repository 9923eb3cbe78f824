"""The ``saf-t`` connection type: a folder of SAF-T Financial files, no credentials.

Sources: docs/connectors/saf-t.md.
"""

from __future__ import annotations

from osr_pipelines.connectors.kind import declare
from osr_pipelines.connectors.options import pattern, text, whole

#: The namespace of SAF-T Financial 1.10 and 1.30 alike (targetNamespace of both XSDs).
NAMESPACE = "urn:StandardAuditFile-Taxation-Financial:NO"
#: ``Header/AuditFileVersion`` values and the schema each is checked against. The Tax Administration's own
#: example file of the 1.10 schema says ``1.0``.
VERSIONS = {"1.0": "1.10", "1.00": "1.10", "1.10": "1.10", "1.1": "1.10", "1.20": "1.10", "1.30": "1.30",
            "1.3": "1.30"}
#: Analysis types are free per file; these are the common ones for departments and projects (a guess from
#: the Tax Administration's example file, where ``A`` is "Avdeling" and ``P`` "Prosjekt").
DEFAULT_DEPARTMENT_TYPE, DEFAULT_PROJECT_TYPE = "A", "P"

ANALYSIS_TYPE = r"[!-~]{1,9}"
INVALID_TYPES = ("", "a b", "ABCDEFGHIJ", "x\n")

OPTIONS = (
    text("path", required=True, what="a folder of SAF-T files"),
    pattern("department_type", ANALYSIS_TYPE, "an analysis type (AnalysisType, up to 9 characters)",
            DEFAULT_DEPARTMENT_TYPE, invalid=INVALID_TYPES),
    pattern("project_type", ANALYSIS_TYPE, "an analysis type (AnalysisType, up to 9 characters)",
            DEFAULT_PROJECT_TYPE, invalid=INVALID_TYPES),
    whole("batch_size", 10_000, 1, 1_000_000),
)

KIND = declare("saf-t", "osr_pipelines.connectors.saft.connector", "SaftConnector", OPTIONS, credentials=())
