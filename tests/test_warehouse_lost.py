"""A warehouse connection killed mid-load: one line that says so, and the company's previous rows intact."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry


def _kill_the_load(url: str, stop: threading.Event) -> list[int]:
    """Terminate the backend that writes postings into ``url``'s database as soon as one is seen."""
    name = make_url(url).database
    killed: list[int] = []
    with psycopg.connect(make_url(url).set(database="postgres").render_as_string(False), autocommit=True) as conn:
        while not stop.is_set() and not killed:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
                                "AND query ILIKE 'COPY gl_postings%%'",
                                (name,)).fetchall()
            for (pid,) in rows:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                killed.append(pid)
            time.sleep(0.01)
    return killed


def test_a_killed_warehouse_connection_is_one_line_and_loses_nothing(tmp_path: Path, monkeypatch, pg_database,
                                                                      pg_instance) -> None:
    url = pg_database("lost")
    registry = write_registry(tmp_path / "registry.yaml",
                              [synthetic_connection("syn", companies="1001", postings="60000", years="2")],
                              [("syn", "1001")])
    monkeypatch.setenv("OSR_REGISTRY", str(registry))
    monkeypatch.setenv("OSR_WAREHOUSE_URL", url)
    [first] = run_imports(pg_instance, "full", ["syn.1001"])
    assert first.status == "SUCCESS", first.error
    before = Warehouse(url).count_postings("syn.1001")

    stop = threading.Event()
    killed: list[int] = []
    killer = threading.Thread(target=lambda: killed.extend(_kill_the_load(url, stop)))
    killer.start()
    try:
        [outcome] = run_imports(pg_instance, "full", ["syn.1001"])
    finally:
        stop.set()
        killer.join()
    if not killed:
        pytest.fail("the load ended before its connection could be killed; make the company larger")
    assert outcome.status == "FAILURE"
    # the dimensions had committed before the postings' load was cut
    assert outcome.error == ("company 'syn.1001': the warehouse connection was lost; the load under way was rolled "
                             "back, its previous rows unchanged; accounts, departments, projects, customers, suppliers "
                             "had been imported and stay")
    assert Warehouse(url).count_postings("syn.1001") == before
