"""The sandbox is an optional extra: ``osr_pipelines`` works without ``osr_sandbox`` and its web stack.

Each case runs in a fresh interpreter whose imports of the sandbox and of the
sandbox extra's packages fail, as on a production install without the extra
(there Dagster's webserver may still bring Starlette, so blocking is the only
way to prove that nothing in the core reaches for them).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Installed first in every child: imports of these top-level packages raise ModuleNotFoundError.
BLOCKER = """
import sys

BLOCKED = {"osr_sandbox", "starlette", "uvicorn", "graphql"}
attempted = []


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            attempted.append(name)
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
"""


def run_without_sandbox(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = BLOCKER + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "OSR_HOME": str(tmp_path / "home"),
                               "DAGSTER_HOME": str(tmp_path / "dagster")})


def test_core_imports_and_synthetic_connector_work_without_the_sandbox(tmp_path: Path) -> None:
    result = run_without_sandbox("""
        import importlib
        import json
        import pkgutil
        from datetime import date

        import osr_pipelines.cli.main
        import osr_pipelines.connectors
        import osr_pipelines.definitions
        from osr_pipelines.connectors.base import Window
        from osr_pipelines.connectors.synthetic import SyntheticConnector

        package = osr_pipelines.connectors
        modules = [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
        for name in modules:
            importlib.import_module(name)
        connector = SyntheticConnector("layering", {"companies": "1001", "postings": "3000", "years": "1",
                                                    "end": "2025-12-31", "batch_size": "100"}, {})
        batches = list(connector.stream_postings("1001", Window(date(2025, 1, 1), date(2025, 2, 1))))
        rows = [row for batch in batches for row in batch]
        print(json.dumps({"modules": modules, "batches": len(batches), "rows": len(rows),
                          "days": sorted({row[2] for row in rows}),
                          "sandbox_imports": [n for n in attempted if n.startswith("osr_sandbox")]}))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"osr_pipelines.connectors.synthetic", "osr_pipelines.connectors.synthetic_books",
            "osr_pipelines.connectors.http", "osr_pipelines.connectors.tripletex.client",
            "osr_pipelines.connectors.xledger.client"} <= set(out["modules"])
    assert out["batches"] >= 2 and out["rows"] > 200  # 3 000 postings a year, in batches of 100
    assert out["days"] == [f"2025-01-{day:02d}" for day in range(1, 32)]
    assert out["sandbox_imports"] == []


def test_sandbox_commands_name_the_extra_when_it_is_missing(tmp_path: Path) -> None:
    result = run_without_sandbox("""
        from osr_pipelines.cli.main import main

        for argv in (["osr", "sandbox", "serve", "tripletex"], ["osr", "demo", "--postings", "100"]):
            sys.argv = argv
            try:
                main()
            except SystemExit as exc:
                print("exit", exc.code, flush=True)
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["exit 1", "exit 1"]
    assert result.stderr.splitlines() == [
        "Error: `osr sandbox serve` needs the sandbox, which is not installed: pip install 'osr-pipelines[sandbox]'",
        "Error: `osr demo` needs the sandbox, which is not installed: pip install 'osr-pipelines[sandbox]'",
    ]
    assert not (tmp_path / "home").exists()  # the demo stops before it creates a home
