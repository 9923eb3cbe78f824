"""The nightly catches vouchers entered or changed since the last run but dated before its window.

PowerOffice Go lists postings by when they were entered (``createdDateTimeOffsetGreaterThan``),
24SevenOffice by when they were changed (``DateChangedUTC``), Business NXT by
``changedTimestamp`` (the server's local time, set on rows created or changed
since October 2024). A voucher of a closed month entered today would otherwise
wait for the weekly year-to-date import; the nightly adds it by id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, DagsterEventType
from sqlalchemy import text

from osr_pipelines.assets.windows import today_in_oslo
from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.runner import run_imports
from osr_sandbox.erps import SANDBOXES
from osr_sandbox.server import running
from tests.conftest import write_registry
from tests.helpers import source_rows, warehouse_rows

#: How each sandbox learns that a day's lines were entered or changed at ``when``.
ENTERED_LATE: dict[str, Callable[[Any, date, datetime], None]] = {
    "poweroffice-go": lambda app, day, when: app.state.sandbox.register_late(day, when),
    "24sevenoffice": lambda app, day, when: app.state.touch("2001", day.isoformat(), when),
    "business-nxt-group": lambda app, day, when: app.state.sandbox.late.touch("2001", day, when),
}


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("erp", sorted(ENTERED_LATE))
def test_nightly_adds_vouchers_entered_back_dated_since_the_last_run(erp: str, home: Path, warehouse_url: str,
                                                                    pg_instance, open_warehouse,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    books = SyntheticBooks(company_ids=("2001",), postings=1500, years=2, mutations_path=home / "books.json")
    sandbox = SANDBOXES[erp]
    app = sandbox.app(books, None, {})
    back_dated = next(d for d in (books.end - timedelta(days=n) for n in range(60, 90))
                      if source_rows(books, "2001", Window(d, d + timedelta(days=1))))
    wh = open_warehouse(warehouse_url)
    with running(app) as base:
        options, credentials = sandbox.login(base, books, {})
        for field, value in credentials.items():
            monkeypatch.setenv(f"SRC_{field.upper()}", value)
        conn = {"name": "src", "type": erp, "level": "customer", "parent": "Acme", "options": options,
                "credentials": {field: f"SRC_{field.upper()}" for field in credentials}}
        write_registry(home / "registry.yaml", [conn], [("src", "2001")])
        assert [o.status for o in run_imports(pg_instance, "full", ["src.2001"])] == ["SUCCESS"]
        day = Window(back_dated, back_dated + timedelta(days=1))
        before = warehouse_rows(wh, "src.2001", day)

        # A voucher of two months ago is corrected and entered now, outside the nightly's 5 days.
        books.edit_day("2001", back_dated)
        ENTERED_LATE[erp](app, back_dated, datetime.now(UTC) + timedelta(minutes=1))
        [nightly] = run_imports(pg_instance, "nightly", ["src.2001"])
    if erp == "24sevenoffice":  # the full import's, the nightly window's and the DateChangedUTC search
        assert app.state.calls["GetTransactions"] >= 3
    # the window's load commits first: a failed back-dated read would leave SUCCESS with a warning
    assert (nightly.status, nightly.warning) == ("SUCCESS", None), nightly.error or nightly.warning
    after = warehouse_rows(wh, "src.2001", day)
    assert after == source_rows(books, "2001", day) and after != before
    everything = Window(date(2000, 1, 1), books.end + timedelta(days=1))
    assert warehouse_rows(wh, "src.2001") == source_rows(books, "2001", everything)
    assert wh.count_postings("src.2001") == books.count_in("2001", everything)  # nothing doubled
    [materialization] = [e.asset_materialization for e in
                         pg_instance.all_logs(nightly.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)
                         if e.asset_materialization.asset_key == AssetKey("gl_postings")]
    assert materialization.metadata["back_dated_rows"].value == len(after)


def _refusing(app: Any, parameter: bytes, refuse: dict[str, bool]) -> Any:
    """``app``, except that while ``refuse["on"]`` it answers requests with ``parameter`` in their query 400."""
    async def wrapped(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and refuse["on"] and parameter in scope.get("query_string", b""):
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/problem+json")]})
            await send({"type": "http.response.body",
                        "body": b'{"title": "Bad Request", "status": 400, "detail": "the filter is refused"}'})
            return
        await app(scope, receive, send)
    return wrapped


@pytest.mark.parametrize("warehouse_url", ["postgresql"], indirect=True)
def test_a_failed_back_dated_read_fails_the_nightly_and_the_next_one_asks_again(home: Path, warehouse_url: str,
                                                                              pg_instance, open_warehouse,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The window's load commits before the back-dated read. When that read fails, the company fails saying
    what stays (the replaced window), and the next nightly asks from the last completed read, not from the
    failed run: a voucher entered between the two would otherwise never be caught before the weekly import."""
    books = SyntheticBooks(company_ids=("2001",), postings=1500, years=2, mutations_path=home / "books.json")
    sandbox = SANDBOXES["poweroffice-go"]
    app = sandbox.app(books, None, {})
    refuse = {"on": False}
    back_dated = next(d for d in (books.end - timedelta(days=n) for n in range(60, 90))
                      if source_rows(books, "2001", Window(d, d + timedelta(days=1))))
    today = today_in_oslo()
    recent = next(d for d in (today - timedelta(days=n) for n in range(1, 5))
                  if source_rows(books, "2001", Window(d, d + timedelta(days=1))))
    wh = open_warehouse(warehouse_url)
    with running(_refusing(app, b"createdDateTimeOffsetGreaterThan", refuse)) as base:
        options, credentials = sandbox.login(base, books, {})
        for field, value in credentials.items():
            monkeypatch.setenv(f"SRC_{field.upper()}", value)
        conn = {"name": "src", "type": "poweroffice-go", "level": "customer", "parent": "Acme", "options": options,
                "credentials": {field: f"SRC_{field.upper()}" for field in credentials}}
        write_registry(home / "registry.yaml", [conn], [("src", "2001")])
        assert [o.status for o in run_imports(pg_instance, "full", ["src.2001"])] == ["SUCCESS"]
        with wh.engine.begin() as db:  # the full import ran three hours ago
            db.execute(text("UPDATE import_log SET finished_at = finished_at - interval '3 hours' "
                            "WHERE company = 'src.2001'"))
        day, recent_day = (Window(d, d + timedelta(days=1)) for d in (back_dated, recent))
        before = warehouse_rows(wh, "src.2001", day)

        # entered two hours ago, after the full import: more than the hour's margin before the failed nightly
        books.edit_day("2001", back_dated)
        app.state.sandbox.register_late(back_dated, datetime.now(UTC) - timedelta(hours=2))
        books.edit_day("2001", recent)
        refuse["on"] = True
        [failed] = run_imports(pg_instance, "nightly", ["src.2001"])
        assert failed.status == "FAILURE", failed
        assert "entered back-dated since" in failed.error and "had been replaced and stays" in failed.error
        assert "previous data left unchanged" not in failed.error
        assert warehouse_rows(wh, "src.2001", recent_day) == source_rows(books, "2001", recent_day)
        assert warehouse_rows(wh, "src.2001", day) == before

        refuse["on"] = False
        [nightly] = run_imports(pg_instance, "nightly", ["src.2001"])
    assert (nightly.status, nightly.warning) == ("SUCCESS", None), nightly.error or nightly.warning
    assert warehouse_rows(wh, "src.2001", day) == source_rows(books, "2001", day) != before
    everything = Window(date(2000, 1, 1), books.end + timedelta(days=1))
    assert wh.count_postings("src.2001") == books.count_in("2001", everything)  # nothing doubled
