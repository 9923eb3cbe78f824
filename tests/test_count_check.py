"""``row_count_matches_source``: the warehouse against the rows received and the ERP's own count."""

from __future__ import annotations

import pytest
from dagster import AssetCheckSeverity

from osr_pipelines.assets.imports import _count_check
from osr_pipelines.connectors.base import SourceCount

EXACT = SourceCount(120, "metadata.totalCount", True)
APPROXIMATE = SourceCount(1000, "fullResultSize", False)
NONE = SourceCount(None, "", False, "Xledger reports no count")


@pytest.mark.parametrize(("warehouse", "received", "reported", "passed", "severity"), [
    (120, 120, EXACT, True, AssetCheckSeverity.ERROR),
    (119, 119, EXACT, False, AssetCheckSeverity.ERROR),      # a row the ERP counted never arrived
    (120, 121, EXACT, False, AssetCheckSeverity.ERROR),      # the load lost a row it received
    (990, 990, APPROXIMATE, True, AssetCheckSeverity.WARN),   # documented as inexact, with no bound: no judgement
    (0, 0, APPROXIMATE, False, AssetCheckSeverity.WARN),      # rows reported, none received: means something
    (990, 991, APPROXIMATE, False, AssetCheckSeverity.ERROR),  # received against the warehouse: always exact
    (1000, 1000, APPROXIMATE, True, AssetCheckSeverity.ERROR),
    (7, 7, NONE, True, AssetCheckSeverity.ERROR),
    (7, 8, NONE, False, AssetCheckSeverity.ERROR),
])
def test_count_check(warehouse: int, received: int, reported: SourceCount, passed: bool,
                     severity: AssetCheckSeverity) -> None:
    ok, level, metadata = _count_check(warehouse, received, reported)
    assert (ok, level) == (passed, severity)
    assert metadata["erp_reported_rows"] == reported.rows
    if reported.rows is None:
        assert metadata["note"] == "Xledger reports no count"
    elif warehouse == received and warehouse != reported.rows:
        assert metadata["difference"] == warehouse - reported.rows
