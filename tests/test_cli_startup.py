"""``osr`` starts without Dagster, SQLAlchemy or the HTTP stack for the commands a person runs all day.

Each ``osr`` call is a fresh process, so whatever the top level imports is paid
on every call: those commands must stay quick, and the lazy command table must
say what the commands themselves say.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from osr_pipelines.cli.main import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("dagster", "sqlalchemy", "httpx")

DEMO_LIKE_REGISTRY = """\
customers:
- name: Demo Accounting
  groups:
  - name: Demo Accounting
    clients: [{name: Skogly 1001 AS}, {name: Demo Group}]
connections:
- name: demo
  type: tripletex
  parent: Demo Accounting
  credentials: {consumer_token: OSR_DEMO_CONSUMER_TOKEN, employee_token: OSR_DEMO_EMPLOYEE_TOKEN}
  options: {base_url: 'http://127.0.0.1:8765/v2'}
companies:
- {connection: demo, erp_id: '1001', name: Skogly 1001 AS, client: Skogly 1001 AS}
- {connection: demo, erp_id: '1002', name: Steinrøys 1002 AS, client: Demo Group}
"""


def modules_loaded_by(argv: list[str], home: Path) -> tuple[str, list[str]]:
    """What ``osr ARGV`` prints, and which of :data:`HEAVY` it imported, in a fresh interpreter."""
    script = (
        "import json, sys\n"
        "from osr_pipelines.cli.main import cli\n"
        f"code = cli.main({argv!r}, prog_name='osr', standalone_mode=False)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSR_", "DAGSTER_"))}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**env, "OSR_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    output, _, loaded = result.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(loaded)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["connection", "list"], ["company", "list"],
                                  ["connection", "show", "demo"], ["connection", "--help"],
                                  ["connection", "types"], ["connection", "add", "--type", "tripletex", "--help"]])
def test_everyday_commands_import_no_dagster_sqlalchemy_or_httpx(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "registry.yaml").write_text(DEMO_LIKE_REGISTRY, encoding="utf-8")
    output, loaded = modules_loaded_by(argv, tmp_path)
    assert loaded == []
    assert output  # the command did its work: help, or the demo connection and its companies
    if argv[-1] == "list":
        assert "demo" in output


def test_help_lists_every_command_without_importing_it(tmp_path: Path) -> None:
    output, loaded = modules_loaded_by(["--help"], tmp_path)
    assert loaded == []
    for name in COMMANDS:
        assert f"  {name} " in output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_table_says_what_each_command_says(name: str) -> None:
    """The help ``osr --help`` shows from the table is the first sentence of the command's own docstring."""
    module, attribute, short_help = COMMANDS[name]
    command = getattr(importlib.import_module(module), attribute)
    assert command.get_short_help_str(limit=1000) == short_help
    assert cli.get_command(None, name) is command  # type: ignore[arg-type]

