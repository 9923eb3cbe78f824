"""Random and malformed registries: a valid ``Registry`` or a ``RegistryError``, never another exception.

Commands that edit the registry must never write a file they could not
read: an invalid registry stays byte for byte as it was.
"""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from osr_pipelines.connectors.catalog import CONNECTOR_TYPES
from osr_pipelines.registry import Registry, RegistryError, load_registry, save_registry
from tests.helpers import osr

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Any value YAML can hold, control characters and huge numbers included.
values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats()
    | st.text(max_size=12) | st.sampled_from(["", "demo", "Acme", "nl\n", "a\tb", "\x00", "\x7f", "2024-02-30"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)

OPTION_NAMES = sorted({name for t in CONNECTOR_TYPES.values() for name in t.options} | {"colour"})
CREDENTIAL_NAMES = sorted({c for t in CONNECTOR_TYPES.values() for c in (*t.credentials, *t.optional_credentials,
                                                                          *t.credential_families)} | {"client_key_x"})


def near(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values, sometimes anything: deep checks get reached, and every field gets garbage."""
    return st.one_of(valid, valid, values)


names = near(st.sampled_from(["demo", "acme-tt", "b", "Bad Name", "nl\n"]))
labels = near(st.sampled_from(["Acme", "Client demo.1001", "G", " padded"]))
field_values = {
    "name": names,
    "type": near(st.sampled_from([*CONNECTOR_TYPES, "navision"])),
    "mode": near(st.sampled_from(["import", "direct", "live"])),
    "level": near(st.sampled_from(["customer", "group", "client"])),
    "parent": labels,
    "private": near(st.booleans()),
    "owner": near(st.text(max_size=5)),
    "credentials": near(st.dictionaries(st.sampled_from(CREDENTIAL_NAMES),
                                        st.sampled_from(["ENV_A", "B", "not a var", "X\n"]), max_size=4)),
    "options": near(st.dictionaries(st.sampled_from(OPTION_NAMES), st.integers() | st.sampled_from(
        ["0", "-1", "abc", "1000", "1", "10" * 20, "none", "https://x.io", "1001,1002", "2024-06-30", "0.5", ""]),
        max_size=4)),
    "nightly_days": near(st.integers(min_value=-2, max_value=400)),
    "history_start": near(st.sampled_from(["2000-01-01", "2024-02-30", "yesterday"])),
    "connection": names,
    "erp_id": near(st.sampled_from(["1001", "1002", "", " 7"]) | st.integers(min_value=0, max_value=9999)),
    "client": labels,
    "detached": near(st.booleans()),
}


def entries(fields: list[str], nested: dict[str, st.SearchStrategy] | None = None) -> st.SearchStrategy:
    nested = nested or {}
    known = st.fixed_dictionaries({}, optional={f: nested[f] if f in nested else field_values.get(f, values)
                                                for f in fields})
    extra = st.dictionaries(st.sampled_from(["colour", "Name", "groups"]), values, max_size=1)
    entry = st.builds(lambda a, b: {**b, **a}, known, extra)
    return near(st.lists(entry, max_size=3))


clients = entries(["name"])
groups = entries(["name", "clients"], {"clients": clients})
registries = st.fixed_dictionaries({}, optional={
    "customers": entries(["name", "groups"], {"groups": groups}),
    "connections": entries(["name", "type", "mode", "level", "parent", "private", "owner", "credentials",
                            "options", "nightly_days", "history_start"]),
    "companies": entries(["connection", "erp_id", "name", "client", "detached"]),
    "colour": values,
}) | values


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    return tmp_path / "registry.yaml"


def check(path: Path, text: str) -> None:
    """Load, and then edit through the CLI: either valid throughout, or refused with nothing written."""
    path.write_text(text, encoding="utf-8")
    try:
        registry = load_registry(path)
    except RegistryError as err:
        event("refused")
        assert err.problems and all(isinstance(p, str) and p for p in err.problems)
        result = osr("connection", "add", "fuzz", "--type", "synthetic", ok=False)
        assert result.exit_code == 1 and "invalid registry" in result.output, result.output
        assert path.read_text(encoding="utf-8") == text
        return
    event("valid")
    assert isinstance(registry, Registry)
    copy = path.with_name("copy.yaml")
    save_registry(registry, copy)
    assert load_registry(copy) == registry
    result = osr("connection", "add", "fuzz", "--type", "synthetic", ok=False)
    assert result.exit_code in (0, 1), result.output  # 1: a connection 'fuzz' exists already
    load_registry(path)


@FUZZ
@given(data=registries)
def test_random_registries_load_or_are_refused(home: Path, data: object) -> None:
    check(home, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!<>|'\"#? ,\n\t0123456789")), max_size=60))
def test_random_text_loads_or_is_refused(home: Path, text: str) -> None:
    check(home, text)


#: A valid registry; one of its fields at a time is replaced with anything.
BASE = {
    "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": "C1"}, {"name": "C2"}]}]}],
    "connections": [
        {"name": "demo", "type": "synthetic", "mode": "import", "level": "customer", "parent": "Acme",
         "private": False, "owner": "", "credentials": {"api_key": "DEMO_KEY"},
         "options": {"companies": "1001,1002", "postings": "300"}, "nightly_days": 5, "history_start": "2000-01-01"},
        {"name": "tt", "type": "tripletex", "level": "client", "parent": "C2",
         "credentials": {"consumer_token": "TT_CONSUMER", "employee_token": "TT_EMPLOYEE"},
         "options": {"page_size": "1000", "workers": "2"}},
    ],
    "companies": [{"connection": "demo", "erp_id": "1001", "name": "One", "client": "C1", "detached": False},
                  {"connection": "tt", "erp_id": "7", "name": "Two", "client": "C2"}],
}


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    return [prefix, *(p for key, child in items for p in _paths(child, (*prefix, key)))]


def _replaced(path: tuple, value: object) -> object:
    if not path:
        return value
    data = copy.deepcopy(BASE)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@FUZZ
@given(path=st.sampled_from(_paths(BASE)), value=values)
def test_a_valid_registry_with_one_field_replaced_loads_or_is_refused(home: Path, path: tuple,
                                                                      value: object) -> None:
    check(home, yaml.safe_dump(_replaced(path, value), allow_unicode=True, sort_keys=False))


#: Characters that change how a name reads without showing: bidi overrides and isolates, zero-width
#: characters, marks, the byte order mark, line and paragraph separators, a C1 control.
HIDDEN = ["\u202e", "\u202d", "\u2066", "\u2069", "\u200b", "\u200d", "\u200e", "\u200f", "\ufeff", "\u2028",
          "\u2029", "\u00ad", "\x9b"]
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}
#: Any text around a run of letters long enough to cross the 120-character bound, sometimes with a hidden character.
name_texts = st.builds(lambda head, n, tail: head + "x" * n + tail,
                       st.text(st.characters(exclude_categories=("Cs",)), max_size=6) | st.sampled_from(HIDDEN),
                       st.integers(min_value=0, max_value=130),
                       st.text(st.characters(exclude_categories=("Cs",)), max_size=6) | st.sampled_from(HIDDEN))
#: Where a name goes in BASE, with the fields that refer to it.
NAME_FIELDS = {
    "customer": [("customers", 0, "name"), ("connections", 0, "parent")],
    "group": [("customers", 0, "groups", 0, "name")],
    "client": [("customers", 0, "groups", 0, "clients", 0, "name"), ("companies", 0, "client")],
    "company": [("companies", 0, "name")],
}


@FUZZ
@given(kind=st.sampled_from(sorted(NAME_FIELDS)), name=name_texts)
def test_names_are_at_most_120_visible_characters(home: Path, kind: str, name: str) -> None:
    data = copy.deepcopy(BASE)
    for path in NAME_FIELDS[kind]:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = name
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    hidden = any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in name)
    try:
        loaded = load_registry(_written(home, text))
    except RegistryError as err:
        event("refused")
        assert hidden or len(name) > 120 or name != name.strip() or not name.strip(), err.problems
        assert any("field 'name'" in p or "field 'client'" in p for p in err.problems), err.problems
        if len(name) > 120 and not hidden and name == name.strip():
            assert any("must be at most 120 characters" in p for p in err.problems), err.problems
        if hidden and not any(unicodedata.category(ch) == "Cc" for ch in name) and name == name.strip():
            assert any("invisible or direction-changing characters (here U+" in p for p in err.problems), \
                err.problems
    else:
        event("valid")
        assert not hidden and len(name) <= 120
        assert name in {loaded.customers[0].name, loaded.customers[0].groups[0].name,
                        loaded.customers[0].groups[0].clients[0].name, loaded.companies[0].name}
    check(home, text)  # and `osr` never writes what it could not read


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
