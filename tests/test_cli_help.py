"""What ``osr`` tells about itself: connection types, a type's credentials and options in
``connection add --help``, its version, and the README's shell completion commands, run as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from osr_pipelines.connectors.catalog import CONNECTOR_TYPES
from tests.helpers import ROOT, osr, readme_block


def test_connection_types_lists_every_type_with_its_credentials_and_options() -> None:
    text = osr("connection", "types").output
    for name, ctype in CONNECTOR_TYPES.items():
        assert f"Type {name} (modes: {', '.join(ctype.modes)})" in text
        for field in (*ctype.credentials, *ctype.optional_credentials, *ctype.credential_families, *ctype.options):
            assert f"\n    {field} " in text, (name, field)
    assert "base_url      an http:// or https:// URL; default https://tripletex.no/v2" in text
    assert "tenant_id" in text and "; required" in text  # Visma.net's tenant ids must be given
    assert "client_key        required: client_key, or one or more client_key_<label>" in text

    listed = json.loads(osr("connection", "types", "--json").output)
    assert [t["type"] for t in listed] == sorted(CONNECTOR_TYPES)
    tripletex = next(t for t in listed if t["type"] == "tripletex")
    assert tripletex["modes"] == ["import"]
    assert tripletex["credentials"] == [{"field": "consumer_token", "required": True, "family": False},
                                        {"field": "employee_token", "required": True, "family": False}]
    assert {"option": "page_size", "required": False, "expects": "a whole number from 1 to 100000",
            "default": "10000"} in tripletex["options"]
    for entry in listed:
        assert [o["option"] for o in entry["options"]] == list(CONNECTOR_TYPES[entry["type"]].options)


def test_connection_add_help_shows_the_given_types_credentials_and_options() -> None:
    plain = osr("connection", "add", "--help").output
    assert "consumer_token" not in plain
    assert "`osr connection add --type TYPE --help` lists that type's credentials" in plain

    tripletex = osr("connection", "add", "--type", "tripletex", "--help").output
    assert "Type tripletex (modes: import)" in tripletex
    assert "consumer_token  required" in tripletex and "employee_token  required" in tripletex
    assert "session_days  a whole number from 1 to 365; default 2" in tripletex
    assert "entity" not in tripletex  # Xledger's option, not Tripletex's

    xledger = osr("connection", "add", "x", "--type=xledger", "--help").output
    assert "Type xledger" in xledger and "entity" in xledger and "consumer_token" not in xledger


def test_version_is_the_installed_release() -> None:
    assert osr("--version").output == f"osr {version('osr-pipelines')}\n"


def test_readme_completion_commands_write_scripts_that_complete(tmp_path: Path) -> None:
    (tmp_path / ".config" / "fish" / "completions").mkdir(parents=True)  # as a fish user has it
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OSR_", "_OSR"))}, "HOME": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    block = readme_block("### Shell completion")
    ran = subprocess.run(["bash", "-e", "-c", block], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "complete -o nosort -F _osr_completion osr" in (tmp_path / ".osr-complete.bash").read_text()
    assert (tmp_path / ".osr-complete.zsh").read_text().startswith("#compdef osr")
    assert "complete --no-files --command osr" in (tmp_path / ".config/fish/completions/osr.fish").read_text()

    # bash, as the README says to load it: `osr conn<TAB>` and `osr connection <TAB>` complete
    complete = subprocess.run(["bash", "-c", ". ~/.osr-complete.bash && complete -p osr && "
                               "for line in 'osr conn' 'osr connection t'; do "
                               "COMP_WORDS=($line); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); "
                               "_osr_completion osr; echo \"${COMPREPLY[*]}\"; done"],
                              env=env, capture_output=True, text=True, timeout=120)
    assert complete.returncode == 0, complete.stderr
    assert complete.stdout.splitlines() == ["complete -o nosort -F _osr_completion osr", "connection",
                                            "test types"]
