"""``--json`` on ``connection list``, ``connection show`` and ``company list``: stable keys, never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import osr

SECRET = "sk-live-json-5ecret-77d1"


@pytest.fixture
def registry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home with one synthetic connection (one credential set, one not) and two companies."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("OSR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OSR_JSON_KEY", SECRET)
    monkeypatch.delenv("OSR_JSON_UNSET", raising=False)
    osr("init", "--customer", "Acme")
    assert json.loads(osr("connection", "list", "--json").output) == []
    osr("connection", "add", "books", "--type", "synthetic", "--credential", "api_key=OSR_JSON_KEY",
        "--option", "companies=1001,1002", "--nightly-days", "7")
    osr("connection", "add", "other", "--type", "synthetic", "--credential", "api_key=OSR_JSON_UNSET", "--private")
    osr("company", "add", "books", "1001")
    osr("company", "add", "books", "1002", "--client", "Acme Group")
    return tmp_path


BOOKS = {"name": "books", "type": "synthetic", "mode": "import", "level": "customer", "parent": "Acme",
         "private": False, "owner": "", "nightly_days": 7, "history_start": "2000-01-01", "company_count": 2}
COMPANIES = [
    {"key": "books.1001", "connection": "books", "erp_id": "1001", "name": "Skogly 1001 AS",
     "client": "Skogly 1001 AS", "organization_number": "900001001", "detached": False},
    {"key": "books.1002", "connection": "books", "erp_id": "1002", "name": "Steinrøys 1002 AS",
     "client": "Acme Group", "organization_number": "900001002", "detached": False},
]


def test_connection_list_json(registry_home: Path) -> None:
    listed = json.loads(osr("connection", "list", "--json").output)
    assert listed == [BOOKS, {**BOOKS, "name": "other", "private": True, "nightly_days": 5, "company_count": 0}]


def test_connection_show_json_names_credential_variables_never_their_values(registry_home: Path) -> None:
    out = osr("connection", "show", "books", "--json").output
    assert SECRET not in out
    assert json.loads(out) == {**BOOKS, "companies": COMPANIES, "options": {"companies": "1001,1002"},
                               "credentials": [{"field": "api_key", "variable": "OSR_JSON_KEY", "set": True}]}
    other = json.loads(osr("connection", "show", "other", "--json").output)
    assert other["credentials"] == [{"field": "api_key", "variable": "OSR_JSON_UNSET", "set": False}]
    missing = osr("connection", "show", "nope", "--json", ok=False)
    assert missing.exit_code == 1 and "nope" in missing.output


def test_company_list_json(registry_home: Path) -> None:
    assert json.loads(osr("company", "list", "--json").output) == COMPANIES


def test_json_output_stays_json_when_something_else_warns_while_the_registry_loads(
        registry_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection garbage-collected during the load warned in front of the JSON (CI saw it once)."""
    from osr_pipelines.cli import common

    def load_and_collect(*args: object, **kwargs: object) -> object:
        import warnings
        warnings.warn("<psycopg.Connection> was deleted while still open", ResourceWarning, stacklevel=1)
        return real(*args, **kwargs)

    real = common.load_registry
    monkeypatch.setattr(common, "load_registry", load_and_collect)
    with pytest.warns(ResourceWarning, match="deleted while still open"):
        out = osr("connection", "show", "books", "--json").output
    assert "deleted while still open" not in out
    assert json.loads(out)["name"] == "books"
