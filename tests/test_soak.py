"""A bounded fault soak, so that data safety under faults cannot regress (``bench/bench_soak.py`` runs it longer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from osr_sandbox.soak import soak


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_ten_imports_with_every_fault_are_never_wrong(home: Path, warehouse_url: str) -> None:
    result = soak(home, warehouse_url, runs=10, companies=("2001",), postings=1200)
    assert result.wrong == 0, result.problems
    assert result.runs == 10
    assert result.converged >= 5, str(result)  # faults are retried: most runs get through
