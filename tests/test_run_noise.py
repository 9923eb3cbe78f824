"""Runs say what happened and nothing else: no pages of DEBUG lines, no warnings about outputs.

``dagster asset materialize`` on the embedded instance ``osr init`` writes, as
the README shows it; the checks it selects with the asset come back as results
of the company's own partition.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, DagsterInstance

from tests.conftest import synthetic_connection, write_registry

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_asset_materialize_prints_info_only_and_yields_its_checks(tmp_path: Path) -> None:
    env = {**os.environ, "OSR_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster"),
           "OSR_REGISTRY": str(tmp_path / "registry.yaml"),
           "OSR_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}"}
    subprocess.run([BIN / "osr", "init"], env=env, check=True, capture_output=True)
    write_registry(tmp_path / "registry.yaml", [synthetic_connection("syn", companies="1001", postings="300")],
                   [("syn", "1001")])
    subprocess.run([BIN / "osr", "import", "full", "--company", "syn.1001"], env=env, check=True,
                   capture_output=True)
    done = subprocess.run([BIN / "dagster", "asset", "materialize", "-m", "osr_pipelines.definitions",
                           "--select", "gl_postings", "--partition", "syn.1001"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    assert " - DEBUG - " not in output, output
    assert "did not yield or return expected outputs" not in output
    assert "importing postings of syn.1001" in output

    instance = DagsterInstance.from_config(str(tmp_path / "dagster"))
    for name in ("vouchers_balance", "row_count_matches_source"):
        [record] = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(AssetKey("gl_postings"), name), limit=1)
        evaluation = record.event.dagster_event.event_specific_data
        assert (evaluation.partition, evaluation.passed) == ("syn.1001", True)
        # yielded as the step's output, so the result points at the materialization it checked
        assert evaluation.target_materialization_data is not None
