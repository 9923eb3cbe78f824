"""The warehouse schema evolves through the revisions shipped in the package, keeping every row.

A warehouse made by a release before migrations (tables, no ``alembic_version``)
is recognised as revision 1 and upgraded, whether opened by an import or by
``osr warehouse upgrade``; the revisions produce exactly ``schema.py``.
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, event, inspect, select, text

from osr_pipelines.warehouse.engine import make_engine
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.migrate import SchemaError, alembic_config, bring_to_head, head_revision
from osr_pipelines.warehouse.schema import companies, metadata
from tests.helpers import osr
from tests.legacy_warehouse import LEGACY, build_legacy_warehouse, legacy_rows


def _differences(url: str, target: MetaData) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(MigrationContext.configure(conn), target)
    engine.dispose()
    return found


def _version(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return version


def _assert_upgraded_with_rows(url: str, before: dict[str, set[tuple]]) -> None:
    assert legacy_rows(url) == before
    assert all(len(rows) == 2 for rows in before.values())
    wh = Warehouse(url)
    with wh.engine.connect() as conn:
        assert set(conn.execute(select(companies.c.company, companies.c.organization_number))) == {
            ("acme.1001", None), ("acme.1002", None)}
    wh.dispose()
    assert _version(url) == head_revision() == "0003"
    assert _differences(url, metadata) == []


def test_warehouse_from_before_migrations_is_upgraded_when_opened(warehouse_url: str) -> None:
    build_legacy_warehouse(warehouse_url)
    before = legacy_rows(warehouse_url)
    Warehouse(warehouse_url).dispose()
    _assert_upgraded_with_rows(warehouse_url, before)

    wh = Warehouse(warehouse_url)
    wh.upsert_company("acme.1003", connection="acme", erp_id="1003", name="Company 3", client="Acme",
                      organization_number="987654321")
    with wh.engine.connect() as conn:
        assert conn.execute(select(companies.c.organization_number).where(companies.c.company == "acme.1003")
                            ).scalar_one() == "987654321"


def test_osr_warehouse_upgrade_upgrades_and_reports_revisions(
        warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_WAREHOUSE_URL", warehouse_url)
    build_legacy_warehouse(warehouse_url)
    before = legacy_rows(warehouse_url)
    assert osr("warehouse", "upgrade").output == "warehouse schema revision: 0001 → 0003\n"
    _assert_upgraded_with_rows(warehouse_url, before)
    assert "0003 → 0003 (already current)" in osr("warehouse", "upgrade").output


def test_new_warehouse_gets_every_revision(warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_WAREHOUSE_URL", warehouse_url)
    assert "none (empty database) → 0003" in osr("warehouse", "upgrade").output
    assert _version(warehouse_url) == "0003"
    assert _differences(warehouse_url, metadata) == []


def test_revision_1_is_the_schema_releases_before_migrations_created(warehouse_url: str) -> None:
    """What makes stamping an unversioned warehouse with revision 1 correct."""
    engine = make_engine(warehouse_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    engine.dispose()
    assert _differences(warehouse_url, LEGACY) == []


def test_downgrade_to_revision_1_and_back_keeps_rows(warehouse_url: str) -> None:
    build_legacy_warehouse(warehouse_url)
    before = legacy_rows(warehouse_url)
    Warehouse(warehouse_url).dispose()
    engine = make_engine(warehouse_url)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    with engine.connect() as conn:
        assert "organization_number" not in {c["name"] for c in inspect(conn).get_columns("companies")}
    assert bring_to_head(engine) == ("0001", "0003")
    engine.dispose()
    _assert_upgraded_with_rows(warehouse_url, before)


def test_opening_a_current_warehouse_costs_one_query(warehouse_url: str) -> None:
    Warehouse(warehouse_url).dispose()
    engine = make_engine(warehouse_url)
    engine.connect().close()  # the dialect's first-connect queries are not the open's
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    assert bring_to_head(engine) == ("0003", "0003")
    engine.dispose()
    assert [sql for sql in statements if not sql.startswith("BEGIN")] == ["SELECT version_num FROM alembic_version"]


def test_warehouse_at_an_unknown_revision_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    Warehouse(url).dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(SchemaError, match=r"revision '0099' is not one this osr-pipelines release knows"):
        Warehouse(url)
    assert _version(url) == "0099"


def test_unversioned_warehouse_missing_tables_is_refused_unchanged(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    build_legacy_warehouse(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE projects"))
    engine.dispose()
    with pytest.raises(SchemaError, match=r"but not projects, and no alembic_version table"):
        Warehouse(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert "alembic_version" not in inspect(conn).get_table_names()
    engine.dispose()
