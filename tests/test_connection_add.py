"""``osr connection add`` catches setup mistakes when they are made: a credential variable this shell
lacks is named at once, and a wrong argument is a usage error naming it, not a 'corrupt registry'."""

from __future__ import annotations

from pathlib import Path

import pytest

from osr_pipelines.registry import load_registry
from tests.conftest import write_registry
from tests.helpers import osr

TOKENS = ("--credential", "consumer_token=OSR_ADD_CONSUMER", "--credential", "employee_token=OSR_ADD_EMPLOYEE")


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid registry (customer Acme, group Acme, one connection 'src'), the only file these commands touch."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    for var in ("OSR_ADD_CONSUMER", "OSR_ADD_EMPLOYEE"):
        monkeypatch.delenv(var, raising=False)
    return write_registry(tmp_path / "registry.yaml", [{"name": "src", "type": "synthetic", "parent": "Acme"}], [])


def test_add_names_each_credential_variable_this_shell_lacks(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_ADD_EMPLOYEE", "set-here")
    result = osr("connection", "add", "tt", "--type", "tripletex", *TOKENS)
    assert "added import connection 'tt' (tripletex)" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: credential 'consumer_token' reads environment variable OSR_ADD_CONSUMER, which "
                        "is not set in this shell: set it here, and for the Dagster daemon and the code server too"]
    assert load_registry(registry).connection("tt").credentials["consumer_token"] == "OSR_ADD_CONSUMER"

    monkeypatch.setenv("OSR_ADD_CONSUMER", "set-here")
    quiet = osr("connection", "add", "tt2", "--type", "tripletex", *TOKENS)
    assert "warning" not in quiet.output


@pytest.mark.parametrize(("args", "expected"), [
    (("--level", "group", "--parent", "Nope"), "--parent: connection 'tt': field 'parent': no group named 'Nope'"),
    (("--level", "client", "--parent", "Acme"), "--parent: connection 'tt': field 'parent': no client named 'Acme'"),
    (("--option", "page_size=0"), "--option: connection 'tt': field 'options.page_size': must be a whole number"),
    (("--option", "page_sise=10"), "--option: connection 'tt': field 'options.page_sise': not an option of type"),
    (("--mode", "direct"), "--mode: connection 'tt': field 'mode': type 'tripletex' supports import, not 'direct'"),
    (("--history-start", "2020-13-01"), "--history-start: connections[1] (tt): field 'history_start': must be a date"),
    (("--credential", "consumer_token=not a variable"),
     "--credential: connection 'tt': field 'credentials.consumer_token': must name an environment variable"),
    (("--credential", "consumer_token"), "Invalid value for '--credential': 'consumer_token': expected KEY=VALUE"),
], ids=["parent", "level", "option-value", "option-name", "mode", "history-start", "credential", "pair"])
def test_a_wrong_argument_is_a_usage_error_naming_it(registry: Path, args: tuple[str, ...], expected: str) -> None:
    before = registry.read_bytes()
    result = osr("connection", "add", "tt", "--type", "tripletex", *TOKENS, *args, ok=False)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "connection add --help' for help." in result.output
    assert "invalid registry" not in result.output
    assert registry.read_bytes() == before


def test_every_wrong_argument_is_named_at_once(registry: Path) -> None:
    result = osr("connection", "add", "Bad", "--type", "tripletex", "--option", "workers=0", ok=False)
    assert result.exit_code == 2
    assert "refused, the registry is unchanged:" in result.output
    for argument in ("NAME: ", "--credential: ", "--option: "):
        assert f"\n  {argument}" in result.output, argument


def test_rename_to_a_bad_name_names_new(registry: Path) -> None:
    result = osr("connection", "rename", "src", "Bad Name", ok=False)
    assert result.exit_code == 2 and "NEW: connections[0] (Bad Name): field 'name': must be lower-case" in result.output


def test_an_invalid_file_is_still_reported_as_the_file(registry: Path) -> None:
    registry.write_text("connections: [{name: x}]\n")
    result = osr("connection", "add", "tt", "--type", "tripletex", *TOKENS, ok=False)
    assert result.exit_code == 1
    assert f"invalid registry {registry}:" in result.output
