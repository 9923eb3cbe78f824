"""The README's SAF-T block, run exactly as written in a shell, on the Tax Administration's example file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from osr_pipelines.saft_export.validate import problems
from osr_pipelines.warehouse.loader import Warehouse
from tests.helpers import readme_block

SPECS = Path(__file__).resolve().parents[1] / ".." / "shared" / "specs" / "saf-t"
EXAMPLE = "ExampleFile_SAF-T_Financial_999999999_20161125213512.xml"


def test_the_readme_saft_block_runs_as_written(tmp_path: Path) -> None:
    block = readme_block("### SAF-T files (any Norwegian ERP)")
    (tmp_path / "saf-t").mkdir()
    shutil.copy(SPECS / EXAMPLE, tmp_path / "saf-t" / EXAMPLE)
    home = tmp_path / "home"
    home.mkdir()
    registry = home / "registry.yaml"
    registry.write_text(yaml.safe_dump({"customers": [{"name": "Acme Accounting"}], "connections": [],
                                        "companies": []}))
    url = f"sqlite:///{home / 'warehouse.db'}"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "OSR_HOME": str(home),
           "OSR_REGISTRY": str(registry), "OSR_WAREHOUSE_URL": url, "DAGSTER_HOME": str(home / "dagster")}
    env.pop("OSR_USER", None)
    done = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "999999999    Selskapet AS  (ExampleFile_SAF-T_Financial_999999999_20161125213512.xml " \
           "2015-01-01..2015-12-31)" in done.stdout
    assert "SUCCESS" in done.stdout
    assert f"{EXAMPLE}: valid SAF-T Financial 1.10" in done.stdout
    assert problems(tmp_path / "selskapet-2015.xml", "1.30") == []
    assert Warehouse(url).count_postings("saft-files.999999999") == 8
