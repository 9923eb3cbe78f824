"""`osr import` as a command: which companies it runs, and what each subcommand's help says."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance

from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr


@pytest.fixture
def two_companies(home: Path) -> Path:
    write_registry(home / "registry.yaml", [synthetic_connection(postings="300", years="1")],
                   [("demo", "1001"), ("demo", "1002")])
    return home


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_company_named_twice_is_imported_once(two_companies: Path) -> None:
    out = osr("import", "nightly", "--company", "demo.1002", "--company", "demo.1001",
              "--company", "demo.1002").output
    assert "nightly import of 2 companies" in out
    assert out.count("SUCCESS") == 2
    assert out.index("demo.1002") < out.index("demo.1001")  # the order given, first mention kept
    runs = DagsterInstance.from_config(str(two_companies / "dagster")).get_runs()
    assert sorted(r.tags["dagster/partition"] for r in runs) == ["demo.1001", "demo.1002"]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_an_unknown_company_is_named(two_companies: Path) -> None:
    refused = osr("import", "nightly", "--company", "demo.1001", "--company", "demo.9999", ok=False)
    assert refused.exit_code == 1
    assert "no such company: demo.9999 (see `osr company list`)" in refused.output
    assert not (two_companies / "dagster").exists()  # refused before any run was made


@pytest.mark.parametrize(("kind", "says"), [
    ("full", ["whole history", "osr import full --company acme-tt.1001", "--allow-shrink"]),
    ("nightly", ["nightly window", "nightly_days", "osr import nightly --all", "--from"]),
    ("ytd", ["1 January to today", "osr import ytd --company acme-tt.1001 --from 2024-01-01 --to 2024-12-31"]),
    ("cancel", ["queued or running import", "osr import cancel --company acme-tt.1001"]),
])
def test_each_import_kind_has_its_own_help(kind: str, says: list[str]) -> None:
    out = osr("import", kind, "--help").output
    assert f" import {kind} [OPTIONS]" in out.splitlines()[0]
    for text in says:
        assert text in out, out
    others = {"full", "nightly", "ytd", "cancel"} - {kind}
    assert not any(f"osr import {other} " in out for other in others), out


def test_full_import_help_offers_no_window() -> None:
    out = osr("import", "full", "--help").output
    assert "--from" not in out and "--to" not in out
