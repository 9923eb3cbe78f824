"""Levels and private connections: who may create, edit, rename and delete a connection, and what others see.

Customer Acme has groups North (client Fjord) and South (client Sand). Ada is
a customer administrator, Nils administers group North, Frida client Fjord,
Sven group South. Connection ``north`` sits on group North; ``nils-own`` is
private to Nils on group North.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osr_pipelines.registry import RegistryError, load_registry
from tests.helpers import osr

USERS = [
    {"name": "ada", "parent": "Acme", "role": "admin"},
    {"name": "nils", "parent": "North", "level": "group"},
    {"name": "frida", "parent": "Fjord", "level": "client"},
    {"name": "sven", "parent": "South", "level": "group"},
]


def _registry(path: Path, users: list[dict]) -> Path:
    data = {
        "customers": [{"name": "Acme", "groups": [{"name": "North", "clients": [{"name": "Fjord"}]},
                                                  {"name": "South", "clients": [{"name": "Sand"}]}]}],
        "connections": [
            {"name": "north", "type": "synthetic", "level": "group", "parent": "North",
             "options": {"companies": "1001"}},
            {"name": "nils-own", "type": "synthetic", "level": "group", "parent": "North", "private": True,
             "owner": "nils", "options": {"companies": "1002", "seed": "7"}, "credentials": {"api_key": "NILS_KEY"}},
        ],
        "companies": [],
    }
    if users:
        data["users"] = users
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("OSR_USER", "")  # restored at teardown: `osr --as` sets it for the process
    return _registry(tmp_path / "registry.yaml", USERS)


def _as(user: str, *args: str, ok: bool = True):
    return osr("--as", user, *args, ok=ok)


@pytest.mark.parametrize(("user", "action"), [
    ("sven", ("connection", "rename", "nils-own", "x")),
    ("frida", ("connection", "delete", "nils-own", "--yes")),
    ("sven", ("connection", "set-private", "nils-own", "--off")),
])
def test_a_private_connection_refuses_everyone_but_its_owner_and_customer_admins(
        registry: Path, user: str, action: tuple[str, ...]) -> None:
    before = registry.read_bytes()
    result = _as(user, *action, ok=False)
    assert result.exit_code == 1
    verb = {"rename": "rename", "delete": "delete", "set-private": "edit"}[action[1]]
    assert (f"refused: connection 'nils-own' is private: only its owner 'nils' and the customer administrators of "
            f"'Acme' may {verb} it ('nils', 'ada'); you act as '{user}'") in result.output
    assert registry.read_bytes() == before


def test_the_owner_and_a_customer_admin_may_edit_a_private_connection(registry: Path) -> None:
    _as("nils", "connection", "rename", "nils-own", "mine")
    _as("ada", "connection", "set-private", "mine", "--off")
    assert load_registry(registry).connection("mine").private is False
    # public now: whoever administers group North may delete it, the client user below it may not
    refused = _as("frida", "connection", "delete", "mine", "--yes", ok=False)
    assert ("refused: connection 'mine' sits on group 'North', which 'frida' does not administer: "
            "only 'ada', 'nils' may delete it") in refused.output


def test_a_public_connection_is_edited_by_who_administers_its_place(registry: Path) -> None:
    refused = _as("sven", "connection", "set-private", "north", ok=False)
    assert "only 'ada', 'nils' may edit it" in refused.output
    _as("nils", "connection", "set-private", "north")
    conn = load_registry(registry).connection("north")
    assert (conn.private, conn.owner) == (True, "nils")  # made private by nils: nils owns it


@pytest.mark.parametrize(("user", "level", "parent", "allowed"), [
    ("ada", "customer", "Acme", True),
    ("ada", "client", "Sand", True),
    ("nils", "group", "North", True),
    ("nils", "client", "Fjord", True),
    ("nils", "group", "South", False),
    ("nils", "customer", "Acme", False),
    ("frida", "client", "Fjord", True),
    ("frida", "group", "North", False),
])
def test_connections_are_created_only_where_the_user_administers(
        registry: Path, user: str, level: str, parent: str, allowed: bool) -> None:
    result = _as(user, "connection", "add", "new", "--type", "synthetic", "--level", level, "--parent", parent,
                 ok=allowed)
    names = [c.name for c in load_registry(registry).connections]
    assert ("new" in names) is allowed
    if not allowed:
        assert result.exit_code == 1
        assert f"refused: '{user}' ({load_registry(registry).user(user).level} " in result.output
        assert f"does not administer {level} '{parent}', so may not create a connection there; only " in result.output


def test_a_private_connection_added_without_owner_is_owned_by_the_acting_user(registry: Path) -> None:
    _as("frida", "connection", "add", "mine", "--type", "synthetic", "--level", "client", "--parent", "Fjord",
        "--private")
    assert load_registry(registry).connection("mine").owner == "frida"


def test_companies_of_a_private_connection_are_added_and_removed_by_its_owner_only(registry: Path) -> None:
    refused = _as("ada", "company", "add", "north", "1001")  # ada administers everything
    assert "added north.1001" in refused.output
    denied = _as("sven", "company", "add", "nils-own", "1002", ok=False)
    assert "connection 'nils-own' is private" in denied.output and "may add companies to it" in denied.output
    assert _as("sven", "company", "remove", "north.1001", "--yes", ok=False).exit_code == 1
    assert [c.key for c in load_registry(registry).companies] == ["north.1001"]


def test_osr_user_acts_like_as(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_USER", "sven")
    assert "you act as 'sven'" in osr("connection", "delete", "nils-own", "--yes", ok=False).output


def test_with_users_listed_a_change_must_say_who_acts(registry: Path) -> None:
    result = osr("connection", "delete", "north", "--yes", ok=False)
    assert ("refused: the registry lists users, so say who acts: `osr --as USER ...` or OSR_USER=USER "
            "(users: 'ada', 'nils', 'frida', 'sven')") in result.output
    unknown = _as("eve", "connection", "delete", "north", "--yes", ok=False)
    assert "'eve' (from --as or OSR_USER) is not one of the registry's users" in unknown.output
    assert [c.name for c in load_registry(registry).connections] == ["north", "nils-own"]


def test_a_registry_without_users_enforces_nothing_and_is_saved_as_before(tmp_path: Path,
                                                                         registry: Path) -> None:
    _registry(registry, [])
    osr("connection", "rename", "nils-own", "renamed")
    osr("connection", "add", "more", "--type", "synthetic", "--level", "group", "--parent", "South")
    assert "users" not in yaml.safe_load(registry.read_text())
    shown = osr("connection", "show", "renamed").output
    assert "credential      api_key <- $NILS_KEY" in shown and "option          seed = 7" in shown


def test_show_hides_a_private_connections_options_and_credential_variables(
        registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for user in ("sven", "frida"):
        shown = _as(user, "connection", "show", "nils-own")
        assert "NILS_KEY" not in shown.output and "seed" not in shown.output and "1002" not in shown.output
        assert "its credentials and options show only to nils, ada" in shown.output
        as_json = _as(user, "connection", "show", "nils-own", "--json")
        assert "NILS_KEY" not in as_json.output and "seed" not in as_json.output
    for user in ("nils", "ada"):
        shown = _as(user, "connection", "show", "nils-own").output
        assert "api_key <- $NILS_KEY" in shown and "seed = 7" in shown
    monkeypatch.setenv("OSR_USER", "")
    assert "NILS_KEY" not in osr("connection", "show", "nils-own").output  # nobody named: hidden


@pytest.mark.parametrize(("change", "problem"), [
    ({"users": [*USERS, {"name": "ola", "parent": "North", "level": "group", "role": "admin"}]},
     "user 'ola': field 'role': an admin is a customer administrator, so its level is 'customer', not 'group'"),
    ({"users": [*USERS, {"name": "ola", "parent": "Nowhere", "level": "client"}]},
     "user 'ola': field 'parent': no client named 'Nowhere'"),
    ({"users": [*USERS, {"name": "ada", "parent": "Acme"}]},
     "user 'ada': field 'name': used 2 times; names must be unique"),
    ({"owner": "eve"}, "connection 'nils-own': field 'owner': a private connection's owner must be one of the "
                       "registry's users (ada, nils, frida, sven), not 'eve'"),
], ids=["admin-level", "parent", "duplicate", "owner"])
def test_the_registry_checks_its_users(registry: Path, change: dict, problem: str) -> None:
    data = yaml.safe_load(registry.read_text())
    if "owner" in change:
        data["connections"][1]["owner"] = change["owner"]
    else:
        data["users"] = change["users"]
    registry.write_text(yaml.safe_dump(data))
    with pytest.raises(RegistryError) as caught:
        load_registry(registry)
    assert problem in caught.value.problems
