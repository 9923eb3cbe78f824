"""Bad registry files give errors naming the entry and the field; duplicates across connections warn."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from osr_pipelines.connectors.catalog import CONNECTOR_TYPES
from osr_pipelines.registry import (
    MAX_BYTES,
    Company,
    Connection,
    DuplicateCompanyWarning,
    RegistryError,
    load_registry,
    save_registry,
)
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr

BIN = Path(sys.executable).parent


def problems(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(RegistryError) as err:
        load_registry(path, **kwargs)
    return err.value.problems


def test_valid_registry_loads(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection()], [("demo", "1001")])
    reg = load_registry(path)
    assert [c.key for c in reg.companies] == ["demo.1001"]
    assert reg.connection("demo").nightly_days == 5


def test_unknown_type(tmp_path: Path) -> None:
    conn = {**synthetic_connection(), "type": "navision"}
    path = write_registry(tmp_path / "r.yaml", [conn], [])
    [problem] = problems(path)
    assert problem.startswith("connections[0] (demo): field 'type': unknown type 'navision' (known: ")


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
    with pytest.warns(DuplicateCompanyWarning, match=r"^a.1001 \(Company 1001\) is the same company as b.1001 "
                                                     r"\(Company 1001\): the same synthetic company id 1001; "):
        reg = load_registry(path)
    assert len(reg.companies) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("connections: [", "not valid YAML"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("connectons: []\n", "unknown top-level key(s): 'connectons'"),
    ("connections:\n  - {name: x, type: synthetic, colour: red}\n",
     "connections[0] (x): field 'colour': unknown field"),
    ("connections:\n  - {type: synthetic}\n", "connections[0]: field 'name': required"),
    ("connections:\n  - {name: Bad Name, type: synthetic}\n",
     "connections[0] (Bad Name): field 'name': must be lower"),
    ("connections:\n  - {name: x, type: synthetic, mode: live}\n",
     "connections[0] (x): field 'mode': must be one of 'import' or 'direct', not 'live'"),
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


CONTROL_CHARACTERS = ["\n", "\t", "\x00", "\x7f"]


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=["newline", "tab", "nul", "del"])
def test_names_with_a_control_character_are_refused(tmp_path: Path, char: str) -> None:
    """``$`` in a regex matches before a final newline: names are matched in full."""
    bad = "nl" + char
    conn = {**synthetic_connection(bad), "credentials": {"api_key": "KEY" + char}}
    data = {"customers": [{"name": "Acme" + char, "groups": [{"name": "G", "clients": [{"name": "C" + char}]}]}],
            "connections": [conn],
            "companies": [{"connection": "demo", "erp_id": "1" + char, "name": "x", "client": "C"}]}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(data))
    found = problems(path)
    shown = repr(bad)
    assert f"connections[0] ({shown}): field 'name': must be lower-case letters, digits, '-' or '_', starting " \
           f"with a letter (at most 63), not {shown}" in found
    assert any(p.startswith("customers[0] (") and "field 'name': must be non-empty text" in p for p in found)
    assert any("clients[0] (" in p and "field 'name': must be non-empty text" in p for p in found)
    assert any(p.startswith("companies[0] (") and "field 'erp_id': must be non-empty text" in p for p in found)
    # every message is one line, the control character shown escaped
    assert all(char not in p for p in found), found


@pytest.mark.parametrize("char", CONTROL_CHARACTERS, ids=["newline", "tab", "nul", "del"])
def test_connection_add_refuses_a_control_character(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    char: str) -> None:
    registry = _cli_home(tmp_path, monkeypatch)
    before = registry.read_bytes()
    result = osr("connection", "add", "nl" + char, "--type", "synthetic", ok=False)
    assert result.exit_code == 2  # a usage error naming NAME
    assert f"field 'name': must be lower-case letters, digits, '-' or '_', starting with a letter (at most 63), " \
           f"not {'nl' + char!r}" in result.output
    result = osr("connection", "add", "ok", "--type", "synthetic", "--credential", f"api_key=KEY{char}", ok=False)
    assert "connection 'ok': field 'credentials.api_key': must name an environment variable" in result.output
    assert registry.read_bytes() == before


def _cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An OSR home with a valid one-connection registry, for commands that only edit the registry."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    return write_registry(tmp_path / "registry.yaml", [synthetic_connection()], [("demo", "1001")])


# The reproduced cases: each was a raw traceback, a misleading message, or silently accepted.
@pytest.mark.parametrize(("text", "expected"), [
    ("connections: [{name: a, type: synthetic, options: 5}]", ["connections[0] (a): field 'options': must be a "
                                                                "mapping, not 5"]),
    ("connections: [{name: a, type: synthetic, credentials: [X]}]",
     ["connections[0] (a): field 'credentials': must be a mapping"]),
    ("connections: [{name: a, type: synthetic, credentials: {api_key: 123456}}]",  # a secret in the wrong place
     ["connections[0] (a): field 'credentials.api_key': must be text"]),
    ("connections: [{name: 5, type: synthetic}]", ["connections[0] (5): field 'name': must be text, not 5"]),
    ("connections: [{name: a, type: [synthetic]}]", ["connections[0] (a): field 'type': must be text, not a list"]),
    ("customers: [{name: A, groups: 5}]", ["customers[0] (A) groups: must be a list, not 5"]),
    ("connections: {a: 1}", ["connections: must be a list, not a mapping"]),
    ("connections: hello", ["connections: must be a list, not 'hello'"]),
    ("connections: [{name: a, type: synthetic, private: 'yes-please'}]",
     ["connections[0] (a): field 'private': must be true or false, not 'yes-please'"]),
    ("connections: [{name: acme-tt, type: synthetic, nightly_days: true}]",
     ["connections[0] (acme-tt): field 'nightly_days': must be a whole number, not true"]),
    ("connections: [{name: a, type: synthetic, nightly_days: '5'}]",
     ["connections[0] (a): field 'nightly_days': must be a whole number, not '5'"]),
    ("connections: [{name: a, type: synthetic, detached: true}]",
     ["connections[0] (a): field 'detached': unknown field (allowed: name, type, mode, level, parent, private, "
      "owner, credentials, options, nightly_days, history_start)"]),
    ("customers: [{name: A, groups: [{name: G, clients: [{name: C}]}]}]\n"
     "companies: [{connection: a, erp_id: 7, name: n, client: C, detached: 'no'}]",
     ["companies[0] (a.7): field 'detached': must be true or false, not 'no'"]),
    ("connections: [{name: a, type: synthetic, history_start: 2024-02-30}]",
     ["connections[0] (a): field 'history_start': must be a date (YYYY-MM-DD), not '2024-02-30'"]),
])
def test_wrong_types_are_reported_by_path(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert problems(path) == expected


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """A missing field no longer hides duplicates, unknown types and bad references elsewhere."""
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({
        "connections": [{"type": "synthetic"}, {"name": "b", "type": "navision"},
                        {"name": "b", "type": "synthetic", "nightly_days": 0}],
        "companies": [{"connection": "b", "erp_id": "1", "name": "x"}, {"connection": "zz", "erp_id": "2",
                                                                       "name": "y", "client": "nobody"}],
    }))
    assert problems(path) == [
        "connections[0]: field 'name': required",
        f"connections[1] (b): field 'type': unknown type 'navision' (known: {', '.join(sorted(CONNECTOR_TYPES))})",
        "connections[2] (b): field 'nightly_days': must be a whole number of days from 1 to 366, not 0",
        "companies[0] (b.1): field 'client': required",
        "connection 'b': field 'name': used 2 times; names must be unique",
        "company 'zz.2': field 'connection': no connection named 'zz'",
        "company 'zz.2': field 'client': no client named 'nobody'",
    ]


def test_a_bad_field_does_not_make_references_to_its_entry_dangle(tmp_path: Path) -> None:
    conn = {**synthetic_connection("demo"), "nightly_days": "five"}
    path = write_registry(tmp_path / "r.yaml", [conn], [("demo", "1001")])
    assert problems(path) == ["connections[0] (demo): field 'nightly_days': must be a whole number, not 'five'"]


@pytest.mark.parametrize(("text", "expected"), [
    ("companies: []\nconnections: []\ncompanies: []\n",
     "line 3: key 'companies' appears twice in one mapping (first on line 1); keep one"),
    ("connections:\n  - name: a\n    type: synthetic\n    name: b\n",
     "line 4: key 'name' appears twice in one mapping (first on line 2); keep one"),
    ("connections: &c []\ncompanies: *c\n",
     "line 1: YAML anchors and aliases (&name, *name) are not accepted; write each value out in full"),
    ("connections:\n  - <<: {name: a}\n    type: synthetic\n",
     "line 2: YAML merge keys (<<) are not accepted; write each field out"),
])
def test_duplicate_keys_and_aliases_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert problems(path) == [expected]


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "r.yaml"
    path.write_text("connections:\n  - name: a\n    type: synthetic\n    options:\n"
                    + "".join(f"      {line}\n" for line in lines))
    started = time.monotonic()
    [problem] = problems(path)
    assert time.monotonic() - started < 1
    assert problem.startswith("line 5: YAML anchors and aliases")


def test_save_writes_owner_only_file_in_owner_only_directory(tmp_path: Path) -> None:
    source = write_registry(tmp_path / "src.yaml", [synthetic_connection()], [("demo", "1001")])
    registry = load_registry(source)
    path = tmp_path / "new" / "home" / "registry.yaml"
    save_registry(registry, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert load_registry(path) == registry
    assert [p.name for p in path.parent.iterdir()] == ["registry.yaml"]  # no temporary file left

    path.chmod(0o644)  # a file someone made readable is tightened on the next save
    save_registry(registry, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_refuses_what_code_built_wrong_and_writes_nothing(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection()], [("demo", "1001")])
    before = path.read_bytes()
    registry = load_registry(path)
    registry.connections.append(Connection(name="x", type="synthetic", nightly_days="7", private="yes"))  # type: ignore[arg-type]
    registry.companies.append(Company(connection="x", erp_id="", name="n", client="Client demo.1001"))
    with pytest.raises(RegistryError) as err:
        save_registry(registry, path)
    assert err.value.problems == [
        "connections[1] (x): field 'private': must be true or false, not 'yes'",
        "connections[1] (x): field 'nightly_days': must be a whole number, not '7'",
        "companies[1] (x.): field 'erp_id': must be non-empty text without surrounding blanks or control "
        "characters, not ''",
    ]
    assert path.read_bytes() == before


def test_shared_values_are_written_out_in_full(tmp_path: Path) -> None:
    """The loader refuses aliases, so the writer must never emit one, even for one dict used twice."""
    path = write_registry(tmp_path / "r.yaml", [synthetic_connection("a")], [])
    registry = load_registry(path)
    shared = registry.connection("a").options
    registry.connections.append(Connection(name="b", type="synthetic", options=shared))
    save_registry(registry, path)
    assert "&" not in path.read_text()
    assert load_registry(path).connection("b").options == shared


def test_numbers_read_as_text_where_the_registry_keeps_text(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("customers: [{name: A, groups: [{name: G, clients: [{name: C}]}]}]\n"
                    "connections: [{name: a, type: synthetic, history_start: 2020-01-01, options: {postings: 50}}]\n"
                    "companies: [{connection: a, erp_id: 1001, name: X, client: C}]\n")
    registry = load_registry(path)
    assert registry.companies[0].key == "a.1001"
    assert registry.connection("a").options == {"postings": "50"}
    assert registry.connection("a").history_start == "2020-01-01"


def test_a_registry_path_that_is_not_a_registry_file_is_named_without_its_content(tmp_path: Path) -> None:
    """A folder, a device, a huge or a non-UTF-8 file is one line naming the file; its content is never shown."""
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("customers: [{name: Bjørn}]\n".encode("latin-1"))
    huge = tmp_path / "huge.yaml"
    huge.write_text("# secret-token\n" + "#" * MAX_BYTES)
    for path, reason in ((folder, "is a folder, not a file"), (Path("/dev/zero"), "is not a regular file"),
                         (latin1, "is not UTF-8 text (byte 22 cannot be decoded)"),
                         (huge, f"is larger than {MAX_BYTES // 1024} KiB")):
        with pytest.raises(RegistryError) as caught:
            load_registry(path)
        assert str(path) in str(caught.value) and reason in str(caught.value), str(caught.value)
        assert "secret-token" not in str(caught.value)


# -- an empty file is a damaged registry, not an empty one -----------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# every company was here\n", "---\n", "{}\n"],
                         ids=["empty", "blank-lines", "blanks", "comment", "empty-document", "empty-mapping"])
def test_an_empty_registry_file_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    [problem] = err.value.problems
    assert str(path) in str(err.value)
    assert problem.startswith("the file is empty") and "restore it from version control" in problem, problem
    assert "run `osr init`" in problem, problem


def test_what_osr_init_writes_loads_and_commands_refuse_an_empty_registry(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("OSR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    osr("init")
    assert [c.name for c in load_registry(tmp_path / "registry.yaml").customers] == ["Default"]

    (tmp_path / "registry.yaml").write_text("")
    for command in (["company", "list"], ["import", "full", "--all"]):
        result = osr(*command, ok=False)
        assert result.exit_code == 1, result.output
        assert "the file is empty" in result.output and "no companies to import" not in result.output, result.output
        assert "Traceback" not in result.output


# -- duplicate companies: one line, once -----------------------------------------------


def test_a_duplicate_company_is_warned_once_in_one_line(tmp_path: Path) -> None:
    """Through ``osr import``, which loads the registry in the command and again in Dagster's tags and run."""
    path = write_registry(tmp_path / "registry.yaml",
                          [synthetic_connection("a", postings="40", years="1", companies="1001"),
                           synthetic_connection("b", postings="40", years="1", companies="1001")],
                          [("a", "1001"), ("b", "1001")])
    env = {**os.environ, "OSR_HOME": str(tmp_path), "OSR_REGISTRY": str(path), "DAGSTER_HOME": str(tmp_path / "dg"),
           "OSR_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'warehouse.db'}"}
    warning = ("warning: a.1001 (Company 1001) is the same company as b.1001 (Company 1001): the same synthetic "
               "company id 1001; reports would count it twice")
    result = subprocess.run([BIN / "osr", "import", "full", "--all"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert [line for line in lines if "is the same company as" in line] == [warning], lines

    # Dagster's code paths load the registry themselves, without the command's handling of warnings.
    script = ("from pathlib import Path\n"
              "from osr_pipelines.registry import load_registry, load_registry_cached\n"
              "from osr_pipelines.tags import partition_tags\n"
              f"p = Path({str(path)!r})\n"
              "load_registry(p); load_registry_cached(p); partition_tags('a.1001'); load_registry(p)\n")
    result = subprocess.run([BIN / "python", "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stderr.splitlines() == [warning], result.stderr


# -- names: bounded, and nothing that hides -------------------------------------------


def _named(**names: str) -> dict:
    """A valid registry whose customer, group, client, company and parent names are ``names`` or defaults."""
    n = {"customer": "Acme", "group": "Acme", "client": "C1", "company": "One", **names}
    conn = {**synthetic_connection(), "parent": n.get("parent", n["customer"])}
    groups = [{"name": n["group"], "clients": [{"name": n["client"]}]}]
    return {"customers": [{"name": n["customer"], "groups": groups}],
            "connections": [conn],
            "companies": [{"connection": "demo", "erp_id": "1001", "name": n["company"], "client": n["client"]}]}


@pytest.mark.parametrize(("kind", "where"), [
    ("customer", "customers[0] ({shown}): field 'name'"),
    ("group", "customers[0] (Acme) groups[0] ({shown}): field 'name'"),
    ("client", "customers[0] (Acme) groups[0] (Acme) clients[0] ({shown}): field 'name'"),
    ("company", "companies[0] (demo.1001): field 'name'"),
])
@pytest.mark.parametrize(("name", "reason"), [
    ("A" * 121, "must be at most 120 characters, not 121"),
    ("Acme\u202eAS", "must not contain invisible or direction-changing characters (here U+202E), not "
                    "'Acme\\u202eAS'"),
    ("Ac\u200bme", "must not contain invisible or direction-changing characters (here U+200B), not 'Ac\\u200bme'"),
    ("Acme\x9b", "control characters"),
], ids=["long", "rtl-override", "zero-width-space", "c1-control"])
def test_names_are_bounded_and_visible(tmp_path: Path, kind: str, where: str, name: str, reason: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_named(**{kind: name}), allow_unicode=True))
    shown = name if name.isprintable() and len(name) <= 80 else repr(name) if len(repr(name)) <= 60 \
        else repr(name)[:57] + "..."
    prefix = where.format(shown=shown) + ": "
    found = problems(path)
    assert any(p.startswith(prefix) and reason in p for p in found), (prefix, found)
    assert all(name not in p for p in found), found  # shown escaped or cut, never as it is


def test_a_name_of_120_characters_loads(tmp_path: Path) -> None:
    name = "Å" * 120
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_named(customer=name, client=name, company=name), allow_unicode=True))
    assert load_registry(path).companies[0].client == name


def test_keys_and_organisation_numbers_fit_the_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    data = _named()
    data["companies"][0].update(erp_id="9" * 115, organization_number="1" * 32)  # demo.999...: 120 characters
    path.write_text(yaml.safe_dump(data))
    assert len(load_registry(path).companies[0].key) == 120

    data["companies"][0].update(erp_id="9" * 116, organization_number="1" * 33)
    path.write_text(yaml.safe_dump(data))
    found = problems(path)
    assert len(found) == 2, found
    assert found[0].endswith("field 'organization_number': must be at most 32 characters (the warehouse's column), "
                             "not 33"), found
    assert found[1].startswith("company 'demo.999") and found[1].endswith(
        "field 'erp_id': makes the company key '<connection>.<erp_id>' 121 characters long; the warehouse keeps "
        "keys of at most 120"), found


def test_osr_refuses_a_hidden_character_in_a_client_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _cli_home(tmp_path, monkeypatch)
    before = registry.read_bytes()
    result = osr("company", "add", "demo", "1002", "--client", "Acme\u202eGroup", ok=False)
    assert result.exit_code != 0
    assert "field 'name': must not contain invisible or direction-changing characters (here U+202E)" \
        in result.output, result.output
    assert registry.read_bytes() == before
