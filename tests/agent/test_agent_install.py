"""The README's install of the agent on the customer's server, run as written: `pip install ./agent`.

It runs in a fresh virtual environment of the interpreter Python was built as
(not the suite's venv), from a copy of the checkout's agent and its package, so
the test proves that the agent installs from its own project file alone and
brings neither Dagster nor the warehouse with it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README_INSTALL = "pip install ./agent"


def test_pip_install_agent_gives_osr_agent_without_dagster(tmp_path: Path) -> None:
    assert f"`{README_INSTALL}`" in (ROOT / "README.md").read_text(encoding="utf-8")
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "agent", checkout / "agent", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    shutil.copytree(ROOT / "osr_agent", checkout / "osr_agent", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "server"
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([base_python, "-m", "venv", venv], check=True, timeout=120)
    bin_dir = venv / "bin"
    install = subprocess.run(f"{bin_dir / README_INSTALL}", shell=True, cwd=checkout, capture_output=True, text=True,
                             timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr

    help_text = subprocess.run([bin_dir / "osr-agent", "--help"], capture_output=True, text=True, timeout=60)
    assert help_text.returncode == 0, help_text.stderr
    assert "connects out to the gateway" in help_text.stdout
    installed = subprocess.run([bin_dir / "python", "-m", "pip", "list", "--format=freeze"], capture_output=True,
                               text=True, check=True, timeout=60).stdout.lower()
    assert "osr-agent==" in installed
    for absent in ("dagster", "osr-pipelines", "sqlalchemy", "psycopg"):
        assert absent not in installed, f"{absent} came with the agent:\n{installed}"
