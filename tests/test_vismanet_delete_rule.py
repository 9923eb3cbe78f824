"""The delete rule of an ``import`` connection, end to end for Visma.net (the reference ``import`` ERP).

Imported from the sandbox through Dagster with the ``osr`` command, then the
connection is deleted: its companies and their warehouse rows stay, marked as
no longer updated, and neither a later nightly import, the nightly schedule
nor the registry sensor imports them or fails on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_schedule_context
from sqlalchemy import select

from osr_pipelines.assets.windows import OSLO, today_in_oslo
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.definitions import build_definitions
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry
from osr_pipelines.resources import RegistryResource
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import companies
from osr_sandbox.server import running
from osr_sandbox.vismanet import SANDBOX
from tests.connectors.conftest import Recorder
from tests.helpers import all_rows_with_run, osr, source_rows, tick, warehouse_rows

COMPANIES = ("2001", "2002")
KEYS = [f"vn.{c}" for c in COMPANIES]


def updated(wh: Warehouse) -> dict[str, str]:
    with wh.engine.connect() as conn:
        return dict(conn.execute(select(companies.c.company, companies.c.updated)).all())


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_deleting_a_visma_net_connection_keeps_companies_and_data(home: Path, warehouse_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    books = SyntheticBooks(company_ids=COMPANIES, postings=1200, years=1, mutations_path=home / "books.json")
    everything = Window(books.start, books.end + timedelta(days=1))
    wh = Warehouse(warehouse_url)
    registry = home / "registry.yaml"
    recorder = Recorder(SANDBOX.app(books, None, {}))
    with running(recorder) as base:
        options, credentials = SANDBOX.login(base, books, {})
        monkeypatch.setenv("VN_CLIENT_ID", credentials["client_id"])
        monkeypatch.setenv("VN_CLIENT_SECRET", credentials["client_secret"])
        osr("init", "--customer", "Acme")
        osr("connection", "add", "vn", "--type", "visma-net", "--credential", "client_id=VN_CLIENT_ID",
            "--credential", "client_secret=VN_CLIENT_SECRET",
            *[arg for key, value in options.items() for arg in ("--option", f"{key}={value}")])
        osr("company", "add", "vn", "--all")
        assert osr("import", "full", "--all").output.count("SUCCESS") == 2
        for key, erp_id in zip(KEYS, COMPANIES, strict=True):
            assert warehouse_rows(wh, key) == source_rows(books, erp_id, everything)
        assert updated(wh) == dict.fromkeys(KEYS, "yes")
        before = {key: all_rows_with_run(wh, key) for key in KEYS}

        assert "no longer updated" in osr("connection", "delete", "vn", "--yes").output

        reg = load_registry(registry)
        assert reg.connections == [] and [c.key for c in reg.companies] == KEYS
        assert all(c.detached for c in reg.companies)
        assert updated(wh) == dict.fromkeys(KEYS, "no")
        assert {key: all_rows_with_run(wh, key) for key in KEYS} == before
        instance = DagsterInstance.from_config(str(home / "dagster"))
        assert sorted(instance.get_dynamic_partitions(company_partitions.name)) == KEYS
        assert "no longer updated" in osr("status").output

        # The source changes; later imports must neither fetch it nor fail.
        books.edit_day("2001", today_in_oslo() - timedelta(days=1))
        served = len(recorder.exchanges)
        assert "no companies to import" in osr("import", "nightly", "--all").output
        sensor = tick(instance, registry, warehouse_url)
        assert list(sensor.run_requests or []) == [] and not sensor.dynamic_partitions_requests
        defs = build_definitions(registry, warehouse_url)
        context = build_schedule_context(instance=instance, instance_ref=instance.get_ref(),
                                         scheduled_execution_time=datetime.now(OSLO).replace(hour=2),
                                         repository_def=defs.get_repository_def(),
                                         resources={"registry": RegistryResource(path=str(registry))})
        nightly = defs.resolve_schedule_def("nightly_imports").evaluate_tick(context)
        assert list(nightly.run_requests or []) == []
        assert len(recorder.exchanges) == served  # the source was not contacted
    assert {key: all_rows_with_run(wh, key) for key in KEYS} == before
    assert sorted(instance.get_dynamic_partitions(company_partitions.name)) == KEYS
