"""A warehouse is opened by the parallel step processes of a run: none may fail the race to create or upgrade it."""

from __future__ import annotations

import multiprocessing

import pytest

from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.migrate import head_revision, upgrade_warehouse
from tests.legacy_warehouse import build_legacy_warehouse, legacy_rows


def _open(url: str) -> None:
    Warehouse(url).dispose()


@pytest.mark.parametrize("existing", ["new", "from before migrations"])
def test_steps_opening_a_warehouse_at_once_all_succeed(warehouse_url: str, existing: str) -> None:
    if existing != "new":
        build_legacy_warehouse(warehouse_url)
    before = legacy_rows(warehouse_url) if existing != "new" else None
    context = multiprocessing.get_context("spawn")
    steps = [context.Process(target=_open, args=(warehouse_url,)) for _ in range(4)]
    for step in steps:
        step.start()
    for step in steps:
        step.join(120)
    assert [step.exitcode for step in steps] == [0] * 4
    assert upgrade_warehouse(warehouse_url) == (head_revision(), head_revision())
    if before is not None:
        assert legacy_rows(warehouse_url) == before
    assert Warehouse(warehouse_url).count_postings("nobody") == 0
