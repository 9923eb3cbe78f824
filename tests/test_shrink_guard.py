"""A source that suddenly sends nothing cannot wipe a company: the full import fails unless told otherwise."""

from __future__ import annotations

from pathlib import Path

from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr


def test_an_empty_full_import_is_refused_unless_allowed(home: Path, warehouse_url: str) -> None:
    conn = synthetic_connection(companies="1001", postings="800", years="1")
    write_registry(home / "registry.yaml", [conn], [("demo", "1001")])
    osr("import", "full", "--company", "demo.1001")
    wh = Warehouse(warehouse_url)
    before = wh.count_postings("demo.1001")
    assert before > 500

    # the same connection now sends no postings inside the history it reads (books ending in 1999)
    write_registry(home / "registry.yaml", [{**conn, "options": {**conn["options"], "end": "1999-12-31"}}],
                   [("demo", "1001")])
    refused = osr("import", "full", "--company", "demo.1001", ok=False).output
    assert "FAILURE" in refused and "allow_shrink" in refused and "demo.1001" in refused
    assert wh.count_postings("demo.1001") == before

    allowed = osr("import", "full", "--company", "demo.1001", "--allow-shrink").output
    assert "SUCCESS" in allowed
    assert wh.count_postings("demo.1001") == 0
