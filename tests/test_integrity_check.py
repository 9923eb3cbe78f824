"""The referential check: postings pointing at dimension rows that were never imported are listed."""

from __future__ import annotations

from osr_pipelines.warehouse.integrity import dangling_references
from osr_pipelines.warehouse.loader import Warehouse


def posting(pid: str, account: str, department: str | None, customer: str | None) -> tuple:
    return (pid, "v1", "2026-01-02", 202601, account, 10.0, "NOK", 10.0, "x", department, None, customer, None,
            None, None, None, None)


def test_missing_dimension_rows_are_counted_with_examples(warehouse_url: str) -> None:
    wh = Warehouse(warehouse_url)
    wh.load_dimension("c.1", "accounts", [[("a1", "1920", "Bank", "balance", None)]], run_id="r")
    wh.load_dimension("c.1", "departments", [[("10", "10", "Sales")]], run_id="r")
    wh.load_postings("c.1", [[posting("p1", "1920", "10", None), posting("p2", "3000", "99", "c7"),
                              posting("p3", "3000", None, "c7"), posting("p4", "4000", "10", None)]],
                     window=None, run_id="r")
    # another company's rows do not resolve this company's references
    wh.load_dimension("c.2", "accounts", [[("a3", "3000", "Sales", "income", None)]], run_id="r")

    found = {d.column: (d.values, d.postings, d.examples) for d in dangling_references(wh.engine, "c.1")}

    assert found == {"account": (2, 3, ["3000", "4000"]), "department": (1, 1, ["99"]), "customer": (1, 2, ["c7"])}
