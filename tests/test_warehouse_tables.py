"""A new warehouse is created by the parallel step processes of its first run: none may fail the race."""

from __future__ import annotations

import multiprocessing

from osr_pipelines.warehouse.loader import Warehouse


def _open(url: str) -> None:
    Warehouse(url).dispose()


def test_steps_creating_a_new_warehouse_at_once_all_succeed(warehouse_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    steps = [context.Process(target=_open, args=(warehouse_url,)) for _ in range(6)]
    for step in steps:
        step.start()
    for step in steps:
        step.join(120)
    assert [step.exitcode for step in steps] == [0] * 6
    assert Warehouse(warehouse_url).count_postings("nobody") == 0
