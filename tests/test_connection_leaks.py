"""Commands and imports close their PostgreSQL connections instead of leaving them to the garbage collector.

psycopg warns (``ResourceWarning``) when it collects a connection that is still
open. A warehouse engine nobody disposes keeps its pooled connections open
until then: ``osr import`` runs every company's import in its own process, so a
nightly over a thousand companies would leave a thousand pools behind.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from osr_pipelines.warehouse.loader import Warehouse
from tests.helpers import osr


@contextmanager
def no_connection_collected_open() -> Iterator[None]:
    """Fail if a psycopg connection is collected while still open during the block (or the collection after it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaked = [str(w.message) for w in caught if "deleted while still open" in str(w.message)]
    assert leaked == []


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_commands_and_in_process_imports_dispose_the_warehouse(home: Path, warehouse_url: str) -> None:
    osr("init", "--customer", "Acme")
    osr("connection", "add", "demo", "--type", "synthetic", "--option", "companies=1001,1002",
        "--option", "postings=300", "--option", "years=1", "--option", f"state={home / 'books.json'}")
    osr("company", "add", "demo", "--all")
    gc.collect()  # whatever the setup left is not what is measured
    with no_connection_collected_open():
        assert osr("import", "full", "--all").output.count("SUCCESS") == 2
        assert "demo (synthetic, import): healthy" in osr("status").output
        osr("company", "remove", "demo.1002", "--yes")
    wh = Warehouse(warehouse_url)
    try:
        assert wh.count_postings("demo.1001") > 0 and wh.count_postings("demo.1002") == 0
    finally:
        wh.dispose()
