"""Bad registry files give errors naming the entry and the field; duplicates across connections warn."""

from __future__ import annotations

from pathlib import Path

import pytest

from osr_pipelines.registry import DuplicateCompanyWarning, RegistryError, load_registry
from tests.conftest import synthetic_connection, write_registry


def problems(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(RegistryError) as err:
        load_registry(path, **kwargs)
    return err.value.problems


def test_valid_registry_loads(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection()], [("demo", "1001")])
    reg = load_registry(path)
    assert [c.key for c in reg.companies] == ["demo.1001"]
    assert reg.connection("demo").nightly_days == 5
    assert reg.connection("demo").resource_key == "conn_demo"


def test_unknown_type(tmp_path: Path) -> None:
    conn = {**synthetic_connection(), "type": "navision"}
    path = write_registry(tmp_path / "r.yaml", [conn], [])
    [problem] = problems(path)
    assert problem.startswith("connection 'demo': field 'type': unknown type 'navision' (known: ")


def test_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSR_NOT_SET", raising=False)
    conn = {**synthetic_connection(), "credentials": {"api_key": "OSR_NOT_SET"}}
    path = write_registry(tmp_path / "r.yaml", [conn], [])
    load_registry(path)  # only checked where secrets are needed
    assert problems(path, check_env=True) == [
        "connection 'demo': field 'credentials.api_key': environment variable OSR_NOT_SET is not set"]


def test_duplicate_names_and_dangling_company(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection(), synthetic_connection()],
                          [("demo", "1001"), ("gone", "7")])
    found = problems(path)
    assert "connection 'demo': field 'name': used 2 times; names must be unique" in found
    assert "company 'gone.7': field 'connection': no connection named 'gone'" in found


def test_same_erp_company_through_two_connections_warns(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection("a"), synthetic_connection("b")],
                          [("a", "1001"), ("b", "1001")])
    with pytest.warns(DuplicateCompanyWarning, match=r"ERP company 1001 \(synthetic\) is added through 2 "
                                                     r"connections: a.1001, b.1001"):
        reg = load_registry(path)
    assert len(reg.companies) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("connections: [", "not valid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("connectons: []\n", "unknown top-level key(s): connectons"),
    ("connections:\n  - {name: x, type: synthetic, colour: red}\n", "connections[0]: field 'colour': unknown field"),
    ("connections:\n  - {type: synthetic}\n", "connections[0]: field 'name': required"),
    ("connections:\n  - {name: Bad Name, type: synthetic}\n", "connection 'Bad Name': field 'name': must be lower"),
    ("connections:\n  - {name: x, type: synthetic, mode: live}\n", "connection 'x': field 'mode': "),
    ("connections:\n  - {name: x, type: synthetic, nightly_days: 0}\n", "field 'nightly_days': must be"),
    ("connections:\n  - {name: x, type: synthetic, level: client, parent: Nobody}\n",
     "connection 'x': field 'parent': no client named 'Nobody'"),
    ("connections:\n  - {name: x, type: synthetic, credentials: {password: PW}}\n",
     "connection 'x': field 'credentials.password': not a credential of type 'synthetic'"),
])
def test_documented_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert any(expected in p for p in problems(path)), problems(path)


def test_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "none.yaml") == ["file does not exist (run `osr init`)"]
