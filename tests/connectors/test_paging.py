"""The shared paging strategies and their loop guards, each over a server of plain pages.

The connectors' own tests run the same strategies against their ERP sandboxes;
these pin the stop rules and guards without an ERP's envelope in the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from osr_pipelines.connectors.base import MalformedResponse, SourceCount
from osr_pipelines.connectors.paging import (
    LastCount,
    Page,
    Tally,
    Where,
    cursor_pages,
    next_link_pages,
    numbered_pages,
    offset_pages,
)

WHERE = Where("Acme ERP", "GET /lines", "conn", "1001")
ROWS = list(range(23))


class Server:
    """Rows served by offset or page number; ``ignore`` makes it answer the first page to every request."""

    def __init__(self, rows: Sequence[int] = ROWS, *, total: int | None = len(ROWS), ignore: bool = False,
                 cap: int | None = None) -> None:
        self.rows, self.total, self.ignore, self.cap = list(rows), total, ignore, cap
        self.asked: list[int] = []

    def by_offset(self, offset: int, size: int) -> Page[int]:
        self.asked.append(offset)
        offset = 0 if self.ignore else offset
        return Page(self.rows[offset:offset + size], self.total)

    def by_number(self, number: int, size: int) -> Page[int]:
        self.asked.append(number)
        size = min(size, self.cap or size)
        start = 0 if self.ignore else (number - 1) * size
        return Page(self.rows[start:start + size], self.total, cap=self.cap)


def walk(pages) -> list[Sequence[int]]:
    return [list(page) for page in pages]


def test_offset_pages_walk_to_the_short_page_and_report_the_total_once():
    server, totals = Server(), []
    pages = walk(offset_pages(server.by_offset, size=10, where=WHERE, parameter="from", count=totals.append))
    assert pages == [ROWS[:10], ROWS[10:20], ROWS[20:]]
    assert server.asked == [0, 10, 20] and totals == [23]


def test_offset_pages_stop_at_an_empty_page_and_count_an_empty_result():
    server, totals = Server(ROWS[:20], total=20), []
    assert walk(offset_pages(server.by_offset, size=10, where=WHERE, count=totals.append)) == [ROWS[:10], ROWS[10:20]]
    assert server.asked == [0, 10, 20]
    assert walk(offset_pages(Server([], total=0).by_offset, size=10, where=WHERE, count=totals.append)) == []
    assert totals == [20, 0]


def test_an_offset_server_that_repeats_its_page_ends_with_an_error_naming_the_erp_and_request():
    server = Server(ignore=True)
    pages = offset_pages(server.by_offset, size=10, where=WHERE, parameter="from")
    assert next(pages) == ROWS[:10]
    with pytest.raises(MalformedResponse) as caught:
        next(pages)
    assert str(caught.value) == (
        "connection 'conn', ERP company '1001', field 'from': Acme ERP GET /lines answered the page before again for "
        "from=10: the server ignores 'from', so paging stopped instead of reading the same page again")


def test_numbered_pages_stop_at_a_short_page_or_go_on_to_the_empty_one():
    server = Server()
    assert walk(numbered_pages(server.by_number, size=10, where=WHERE)) == [ROWS[:10], ROWS[10:20], ROWS[20:]]
    assert server.asked == [1, 2, 3]
    # a server that trims pages to a cap it does not announce: only an empty page ends the read
    trimming = Server(cap=4)
    trimming.by_number = lambda number, size, served=trimming.by_number: Page(served(number, size).items)
    pages = walk(numbered_pages(trimming.by_number, size=10, where=WHERE, stop_on_short=False))
    assert [row for page in pages for row in page] == ROWS and trimming.asked == [1, 2, 3, 4, 5, 6, 7]


def test_numbered_pages_follow_the_number_the_page_names_and_refuse_to_go_back():
    def fetch(number: int, size: int) -> Page[int]:
        return Page([number], next={1: 3, 3: 2}[number])

    pages = numbered_pages(fetch, size=1, where=WHERE, parameter="PageNumber")
    assert walk([next(pages), next(pages)]) == [[1], [3]]
    with pytest.raises(MalformedResponse, match="page 3 named page 2 as the next one"):
        next(pages)
    last = numbered_pages(lambda n, size: Page([n], more=n < 2), size=1, where=WHERE)
    assert walk(last) == [[1], [2]]


def test_numbered_pages_number_later_pages_by_the_announced_cap_and_fetch_them_concurrently():
    server = Server(cap=5)
    pages = walk(numbered_pages(server.by_number, size=10, where=WHERE, workers=3))
    assert [row for page in pages for row in page] == ROWS
    assert sorted(server.asked) == [1, 2, 3, 4, 5]  # 23 rows in pages of 5, asked for once each


@pytest.mark.parametrize("workers", [1, 3])
def test_a_numbered_server_that_repeats_its_page_ends_with_an_error(workers):
    server = Server(ignore=True)
    pages = numbered_pages(server.by_number, size=10, where=WHERE, parameter="pageNumber", workers=workers)
    assert next(pages) == ROWS[:10]
    with pytest.raises(MalformedResponse, match="Acme ERP GET /lines answered the page before again for "
                                                "pageNumber=2"):
        next(pages)


def cursor_server(pages: list[tuple[list[int], str | None, bool]]) -> tuple[Callable, list]:
    """Answers request ``n`` with ``pages[n]``: items, the cursor (or link) to the next page, whether more follow."""
    asked: list[str | None] = []

    def fetch(after: str | None) -> Page[int]:
        items, following, more = pages[len(asked)]
        asked.append(after)
        return Page(items, total=None if asked[1:] else 7, next=following, more=more)

    return fetch, asked


def test_cursor_pages_follow_the_cursor_while_more_pages_follow():
    fetch, asked = cursor_server([([1, 2], "c2", True), ([], "c3", True), ([3], "c4", False)])
    totals: list[int | None] = []
    assert walk(cursor_pages(fetch, where=WHERE, count=totals.append)) == [[1, 2], [3]]
    assert asked == [None, "c2", "c3"] and totals == [7]


def test_a_repeated_cursor_ends_the_read_before_its_rows_come_out():
    fetch, _ = cursor_server([([1], "c1", True), ([2], "c2", True), ([1], "c1", True)])
    pages = cursor_pages(fetch, where=WHERE)
    assert walk([next(pages), next(pages)]) == [[1], [2]]
    with pytest.raises(MalformedResponse, match="Acme ERP GET /lines answered cursor 'c1' a second time after "
                                                "2 pages"):
        next(pages)


def test_more_pages_without_a_cursor_is_an_error():
    fetch, _ = cursor_server([([1], None, True)])
    with pytest.raises(MalformedResponse, match="said more pages follow but sent no cursor"):
        walk(cursor_pages(fetch, where=WHERE))


def test_next_link_pages_end_at_the_page_without_a_link_and_refuse_a_link_twice():
    fetch, asked = cursor_server([([1], "/lines?p=2", True), ([2], None, True)])
    assert walk(next_link_pages(fetch, where=WHERE)) == [[1], [2]] and asked == [None, "/lines?p=2"]
    fetch, _ = cursor_server([([1], "/lines?p=2", True), ([2], "/lines?p=2", True)])
    with pytest.raises(MalformedResponse, match="answered next link '/lines\\?p=2' a second time"):
        walk(next_link_pages(fetch, where=WHERE))


def test_a_tally_sums_the_counts_of_its_requests_and_is_unknown_if_one_had_none():
    tally = Tally("fullResultSize", exact=False, note="not exact")
    tally(1000)
    tally(2000)
    assert tally.result() == SourceCount(3000, "fullResultSize", False, "not exact; summed over 2 requests")
    tally(None)
    assert tally.result() == SourceCount(None, "fullResultSize", False,
                                         "1 of 3 request(s) reported no fullResultSize")


def test_the_last_count_is_recorded_only_when_the_read_completes():
    last = LastCount()
    assert last.value.rows is None and "no stream_postings has completed" in last.value.note
    counted = SourceCount(2, "total", True)
    batches = last.track(iter([[(1,)], [(2,)]]), lambda: counted)
    next(batches)
    assert last.value.rows is None and "did not complete" in last.value.note
    assert list(batches) == [[(2,)]] and last.value == counted
