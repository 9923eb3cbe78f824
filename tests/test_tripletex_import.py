"""Imports through Dagster from the Tripletex sandbox over HTTP: exact rows, with faults, and bad tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance

from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.connectors.base import Window
from osr_pipelines.registry import load_registry
from osr_pipelines.runner import run_imports
from osr_pipelines.sandbox.generator import SyntheticBooks
from osr_pipelines.sandbox.server import running
from osr_pipelines.sandbox.tripletex import tripletex_app
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import write_registry
from tests.helpers import all_rows_with_run, source_rows, warehouse_rows

CONSUMER, EMPLOYEE = "tt-consumer-secret-1", "tt-employee-secret-2"
COMPANIES = ("2001", "2002")


@pytest.fixture
def books(home: Path) -> SyntheticBooks:
    return SyntheticBooks(company_ids=COMPANIES, postings=2500, years=2, mutations_path=home / "books.json")


@pytest.fixture
def registry(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Registers a tripletex connection pointing at a sandbox URL; tokens from the environment."""
    monkeypatch.setenv("TT_CONSUMER", CONSUMER)
    monkeypatch.setenv("TT_EMPLOYEE", EMPLOYEE)

    def make(base_url: str) -> Path:
        conn = {"name": "tt", "type": "tripletex", "level": "customer", "parent": "Acme",
                "credentials": {"consumer_token": "TT_CONSUMER", "employee_token": "TT_EMPLOYEE"},
                "options": {"base_url": f"{base_url}/v2", "page_size": "1000"}}
        return write_registry(home / "registry.yaml", [conn], [("tt", c) for c in COMPANIES])

    yield make


def sandbox(books: SyntheticBooks, faults: str | None = None):
    return running(tripletex_app(books, consumer_token=CONSUMER, employee_token=EMPLOYEE, accountant=True,
                                 faults=faults))


def imports(instance: DagsterInstance, path: Path, kind: str) -> list:
    outcomes = run_imports(instance, load_registry(path), kind, [f"tt.{c}" for c in COMPANIES])
    return [(o.status, o.error) for o in outcomes]


def everything(books: SyntheticBooks) -> Window:
    return Window(books.start, books.end + timedelta(days=1))


def test_full_and_nightly_land_the_exact_rows(books, registry, warehouse_url: str, pg_instance) -> None:
    wh = Warehouse(warehouse_url)
    with sandbox(books) as base:
        path = registry(base)
        assert imports(pg_instance, path, "full") == [("SUCCESS", None)] * 2
        for erp_id in COMPANIES:
            assert warehouse_rows(wh, f"tt.{erp_id}") == source_rows(books, erp_id, everything(books))
            assert wh.unbalanced_vouchers(f"tt.{erp_id}") == []

        today = today_in_oslo()
        books.edit_day("2001", today - timedelta(days=1))
        books.delete_voucher("2001", today - timedelta(days=3), 0)
        assert imports(pg_instance, path, "nightly") == [("SUCCESS", None)] * 2
    window = Window.last_days(5, today)
    assert warehouse_rows(wh, "tt.2001", window) == source_rows(books, "2001", window)
    assert warehouse_rows(wh, "tt.2001") == source_rows(books, "2001", everything(books))


def test_faults_do_not_change_the_result(books, registry, warehouse_url: str, pg_instance) -> None:
    wh = Warehouse(warehouse_url)
    with sandbox(books, faults="429=0.05,500=0.05,slow=0.02,drop=0.03,malformed=0.03") as base:
        assert imports(pg_instance, registry(base), "full") == [("SUCCESS", None)] * 2
    for erp_id in COMPANIES:
        assert warehouse_rows(wh, f"tt.{erp_id}") == source_rows(books, erp_id, everything(books))


def test_bad_token_fails_clearly_and_writes_nothing(books, registry, warehouse_url: str, pg_instance,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    wh = Warehouse(warehouse_url)
    with sandbox(books) as base:
        path = registry(base)
        monkeypatch.setenv("TT_EMPLOYEE", "revoked-employee-token")
        [(status, error), _] = imports(pg_instance, path, "full")
    assert status == "FAILURE"
    assert error.startswith("connection 'tt'")
    assert "employee token" in error and "TT_EMPLOYEE" in error
    assert "revoked-employee-token" not in error and CONSUMER not in error
    assert wh.count_postings("tt.2001") == 0 and all_rows_with_run(wh, "tt.2002") == set()
    logs = [str(e) for run in pg_instance.get_runs() for e in pg_instance.all_logs(run.run_id)]
    assert not any("revoked-employee-token" in line or CONSUMER in line for line in logs)


def test_connection_test_lists_the_accountants_clients(books, registry, monkeypatch) -> None:
    from click.testing import CliRunner

    from osr_pipelines.cli.main import cli

    with sandbox(books) as base:
        registry(base)
        result = CliRunner().invoke(cli, ["connection", "test", "tt"])
    assert result.exit_code == 0, result.output
    assert "2 companies reachable" in result.output and "2001" in result.output

