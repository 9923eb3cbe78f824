"""Business NXT's two connection types end to end: direct reports equal imported ones; delete and client rules.

A ``business-nxt`` connection is direct: its reports are summed by Business
NXT (the sandbox's grouped queries) while the report runs, and nothing but
the rendered report is kept. A ``business-nxt-group`` connection imports.
Both read the same sandbox books here, so their reports must be the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, instance_for_test, materialize

from osr_pipelines.assets.reports import company_reports
from osr_pipelines.instance import get_instance
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry
from osr_pipelines.resources import RegistryResource, WarehouseResource
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_sandbox.businessnxt import SANDBOX
from osr_sandbox.server import running
from tests.conftest import write_registry
from tests.helpers import osr

END = date(2025, 6, 30)
REPORTS = ("trial_balance", "income_statement", "balance_sheet")


@pytest.fixture
def books():
    from osr_pipelines.connectors.synthetic_books import SyntheticBooks
    return SyntheticBooks(company_ids=("3001", "3002"), postings=1500, years=2, end=END)


@pytest.fixture
def sandbox(books, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, str], object]]:
    """The sandbox serving ``books``; its connection options, the credentials set as BNXT_* variables."""
    app = SANDBOX.app(books, None, {})
    with running(app) as base:
        options, credentials = SANDBOX.login(base, books, {})
        monkeypatch.setenv("BNXT_ID", credentials["client_id"])
        monkeypatch.setenv("BNXT_SECRET", credentials["client_secret"])
        yield options, app.state.sandbox


CREDENTIALS = {"client_id": "BNXT_ID", "client_secret": "BNXT_SECRET"}


def reports(instance: DagsterInstance, registry: Path, url: str, company: str, period: str) -> dict[str, dict]:
    if not instance.has_dynamic_partition(company_partitions.name, company):
        instance.add_dynamic_partitions(company_partitions.name, [company])
    result = materialize([company_reports], instance=instance, partition_key=company,
                         run_config={"ops": {"company_reports": {"config": {"period": period}}}},
                         resources={"registry": RegistryResource(path=str(registry)),
                                    "warehouse": WarehouseResource(url=url)})
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    return {m.asset_key.to_user_string(): {k: getattr(v, "value", v) for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node("company_reports")}


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_direct_reports_equal_the_reports_of_imported_postings(home: Path, warehouse_url: str, sandbox) -> None:
    options, server = sandbox
    registry = write_registry(home / "registry.yaml", [
        {"name": "live", "type": "business-nxt", "mode": "direct", "options": dict(options),
         "credentials": dict(CREDENTIALS)},
        {"name": "grp", "type": "business-nxt-group", "options": dict(options), "credentials": dict(CREDENTIALS)},
    ], [("live", "3001"), ("grp", "3001")])
    wh = Warehouse(warehouse_url)
    with instance_for_test() as instance:
        assert [(o.status, o.error) for o in run_imports(instance, "full", ["grp.3001"])] == [("SUCCESS", None)]
        for period in ("2025-03",):
            asked = len(server.queries)
            direct = reports(instance, registry, warehouse_url, "live.3001", period)
            live = server.queries[asked:]
            imported = reports(instance, registry, warehouse_url, "grp.3001", period)
            for name in REPORTS:
                assert (direct[name]["source"], imported[name]["source"]) == ("direct", "warehouse")
                assert direct[name]["report"] == imported[name]["report"], name
                assert direct[name]["currency"] == imported[name]["currency"] == "NOK"
            # Business NXT summed: one grouped request, and no posting was read
            assert sum("groupBy" in q for q in live) == 1
            assert not any("generalLedgerTransaction(first: $first" in q for q in live)
    assert wh.count_postings("live.3001") == 0 and wh.count_postings("grp.3001") > 0
    wh.dispose()


def materializations(instance: DagsterInstance, company: str) -> int:
    return sum(len(instance.fetch_materializations(AssetRecordsFilter(asset_key=AssetKey(name),
                                                                     asset_partitions=[company]), limit=100).records)
               for name in REPORTS)


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_delete_and_client_rules_of_both_types(home: Path, warehouse_url: str, sandbox) -> None:
    options, _ = sandbox
    option_args = [arg for key, value in options.items() for arg in ("--option", f"{key}={value}")]
    credential_args = ["--credential", "client_id=BNXT_ID", "--credential", "client_secret=BNXT_SECRET"]
    osr("init", "--customer", "Acme")
    refused = osr("connection", "add", "x", "--type", "business-nxt", "--mode", "import", *credential_args,
                  *option_args, ok=False)
    assert "type 'business-nxt' supports direct, not 'import'" in refused.output
    added = osr("connection", "add", "live", "--type", "business-nxt", *credential_args, *option_args)
    assert "added direct connection 'live'" in added.output

    # only the group type puts several companies in one client
    shared = osr("company", "add", "live", "3001", "3002", "--client", "Konsern", ok=False)
    assert "a company of a 'business-nxt' connection must be its client's only one" in shared.output
    osr("company", "add", "live", "--all")
    osr("connection", "add", "grp", "--type", "business-nxt-group", *credential_args, *option_args)
    osr("company", "add", "grp", "--all", "--client", "Konsern")
    reg = load_registry(home / "registry.yaml")
    assert {c.key: c.client for c in reg.companies if c.connection == "grp"} == {"grp.3001": "Konsern",
                                                                                "grp.3002": "Konsern"}
    assert osr("import", "full", "--company", "grp.3001").output.count("SUCCESS") == 1

    # a direct company's only data: its rendered reports (files and materializations)
    instance = get_instance()
    rendered = reports(instance, home / "registry.yaml", warehouse_url, "live.3001", "2025-05")
    files = [Path(r[kind]) for r in rendered.values() for kind in ("html", "excel")]
    assert all(f.exists() for f in files) and materializations(instance, "live.3001") == 3

    assert "deleted connection 'live', 2 companies and their data" in osr("connection", "delete", "live",
                                                                         "--yes").output
    reg = load_registry(home / "registry.yaml")
    assert [c.name for c in reg.connections] == ["grp"] and all(c.connection == "grp" for c in reg.companies)
    assert not any(f.exists() for f in files) and materializations(instance, "live.3001") == 0
    assert not any(p.startswith("live.") for p in instance.get_dynamic_partitions(company_partitions.name))

    wh = Warehouse(warehouse_url)
    kept = {key: wh.count_postings(key) for key in ("grp.3001", "grp.3002")}
    assert kept["grp.3001"] > 0
    assert "no longer updated" in osr("connection", "delete", "grp", "--yes").output
    reg = load_registry(home / "registry.yaml")
    assert reg.connections == [] and [c.key for c in reg.companies] == ["grp.3001", "grp.3002"]
    assert all(c.detached for c in reg.companies)
    assert {key: wh.count_postings(key) for key in kept} == kept
    wh.dispose()
