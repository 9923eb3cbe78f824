"""The paging every connector shares: offset/count, numbered pages, cursors and next links.

Each strategy takes a callable that fetches one page and yields the items of
each non-empty page (a list, so that connectors map a page at a time). The
callable knows the ERP's request and envelope; the strategy knows when to
stop, and guards the loop: a server that ignores the paging parameter, or
hands out a cursor or link it handed out before, would otherwise be read
forever (and each page loaded again). That ends with one
:class:`MalformedResponse` naming the ERP and the request.

The shapes follow dlt's paginators (``OffsetPaginator``, ``PageNumberPaginator``,
``JSONResponseCursorPaginator``, ``HeaderLinkPaginator``). Stop rules differ
per ERP and are the caller's to choose: a short page ends an offset walk
(Tripletex), but not a numbered one whose server may trim ``PageSize`` to a cap
of its own (PowerOffice).

A strategy also reports the count the ERP gives for the whole request (its
first page's :attr:`Page.total`) to ``count``, once per request series, so a
connector can tell the caller how many rows the ERP said there were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from osr_pipelines.connectors.base import Batch, MalformedResponse, SourceCount
from osr_pipelines.connectors.http import fetch_ahead

T = TypeVar("T")
Count = Callable[[int | None], None]


@dataclass(frozen=True)
class Where:
    """A paged request as errors name it: ``Tripletex GET /ledger/posting``, with connection and company."""

    erp: str
    request: str
    connection: str
    company: str | None

    def malformed(self, message: str, field: str | None = None) -> MalformedResponse:
        return MalformedResponse(f"{self.erp} {self.request} {message}", connection=self.connection,
                                 company=self.company, field=field)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One answer: its items and what the server said about the rest.

    ``total`` is the count the server reports for the whole request, if any;
    ``next`` the cursor, link or page number it names for the next page, if any;
    ``more`` false when it says this page is the last; ``cap`` the largest page
    size it announces (a requested size above it is cut to it).
    """

    items: Sequence[T]
    total: int | None = None
    next: Any = None
    more: bool = True
    cap: int | None = None


def item_key(field: str) -> Callable[[Any], Any]:
    """``field`` of a page item, whether a decoded dict or a typed object."""
    return lambda item: item.get(field) if isinstance(item, dict) else getattr(item, field, None)


class RepeatGuard:
    """Compares each page's first item, last item and length with the page before."""

    def __init__(self, where: Where, parameter: str, key: Callable[[Any], Any] = lambda item: item) -> None:
        self.where, self.parameter, self.key = where, parameter, key
        self._previous: tuple | None = None

    def check(self, page: Sequence[Any], value: object) -> None:
        """Raise :class:`MalformedResponse` if ``page`` (asked for with ``parameter=value``) repeats the last one."""
        if not page:
            return
        edges = (self.key(page[0]), self.key(page[-1]), len(page))
        if edges == self._previous:
            raise self.where.malformed(
                f"answered the page before again for {self.parameter}={value}: the server ignores "
                f"'{self.parameter}', so paging stopped instead of reading the same page again", self.parameter)
        self._previous = edges


def offset_pages(fetch: Callable[[int, int], Page[T]], *, size: int, where: Where, parameter: str = "offset",
                 key: Callable[[Any], Any] = lambda item: item, count: Count | None = None) -> Iterator[Sequence[T]]:
    """Pages of ``fetch(offset, size)`` from offset 0, until a short or an empty page."""
    guard = RepeatGuard(where, parameter, key)
    offset = 0
    while True:
        page = fetch(offset, size)
        if offset == 0 and count is not None:
            count(page.total)
        if not page.items:
            return
        guard.check(page.items, offset)
        yield page.items
        if len(page.items) < size:
            return
        offset += len(page.items)


def numbered_pages(fetch: Callable[[int, int], Page[T]], *, size: int, where: Where, parameter: str = "page",
                   key: Callable[[Any], Any] = lambda item: item, stop_on_short: bool = True, workers: int = 1,
                   count: Count | None = None) -> Iterator[Sequence[T]]:
    """Pages of ``fetch(number, size)`` from page 1, until an empty page or one the server calls the last.

    ``stop_on_short`` also ends at a page shorter than the size the server
    serves (its announced :attr:`Page.cap`, else the length of a cut first
    page); a server that may trim pages without saying so needs it off. The
    next number is the one the page names (:attr:`Page.next`), else the one
    after; a page naming one that is not after it ends the read with an error.
    With ``workers`` above 1 and a total on the first page, every later page
    number is known, and up to ``workers`` of them are fetched at once.
    """
    guard = RepeatGuard(where, parameter, key)
    page = fetch(1, size)
    if count is not None:
        count(page.total)
    if not page.items:
        return
    size = _served_size(page, size)
    guard.check(page.items, 1)
    yield page.items
    if workers > 1 and page.total is not None:
        later = range(2, -(-page.total // size) + 1)
        pages = fetch_ahead((_one(fetch, n, size) for n in later), workers=workers)
        for number, following in zip(later, pages, strict=True):
            guard.check(following.items, number)  # a page past a shrunk total is empty, and passes
            if following.items:
                yield following.items
        return
    number = 1
    while page.more and not (stop_on_short and len(page.items) < size):
        following = page.next if page.next is not None else number + 1
        if following <= number:
            raise where.malformed(f"page {number} named page {following} as the next one: paging stopped "
                                  "instead of going back", parameter)
        number = following
        page = fetch(number, size)
        if not page.items:
            return
        guard.check(page.items, number)
        yield page.items


def _served_size(first: Page, asked: int) -> int:
    """The page size later pages are numbered by: the announced cap, else what a cut first page held."""
    if first.cap and first.cap < asked:
        return first.cap
    if len(first.items) < (asked if first.total is None else min(asked, first.total)):
        return len(first.items)
    return asked


def _one(fetch: Callable[[int, int], Page[T]], number: int, size: int) -> Iterator[Page[T]]:
    yield fetch(number, size)


def cursor_pages(fetch: Callable[[str | None], Page[T]], *, where: Where,
                 count: Count | None = None) -> Iterator[Sequence[T]]:
    """Pages of ``fetch(after)`` from ``None``, following :attr:`Page.next` while :attr:`Page.more` (Relay
    ``pageInfo.hasNextPage`` and the last edge's cursor). A page that promises more without a cursor,
    or a cursor handed out before, ends the read with an error."""
    return _follow(fetch, where, "cursor", count)


def next_link_pages(fetch: Callable[[str | None], Page[T]], *, where: Where,
                    count: Count | None = None) -> Iterator[Sequence[T]]:
    """Pages of ``fetch(link)`` from ``None`` (the first request), following :attr:`Page.next`, the
    next-page link (a ``Link: rel=next`` header, say), until a page names none. A link handed out
    before ends the read with an error."""
    return _follow(fetch, where, "next link", count, ends_without_token=True)


def _follow(fetch: Callable[[str | None], Page[T]], where: Where, token: str, count: Count | None, *,
            ends_without_token: bool = False) -> Iterator[Sequence[T]]:
    seen: set[str] = set()
    after: str | None = None
    while True:
        page = fetch(after)
        if after is None and count is not None:
            count(page.total)
        following = page.next
        if following is not None:  # checked before the rows go out: a repeated page must not load
            if following in seen:
                raise where.malformed(f"answered {token} {following!r} a second time after {len(seen)} pages; "
                                      "stopping instead of reading the same pages again")
            seen.add(following)
        if page.items:
            yield page.items
        if not page.more or (following is None and ends_without_token):
            return
        if following is None:
            raise where.malformed(f"said more pages follow but sent no {token} to continue after")
        after = following


class Tally:
    """The counts one read's request series reported, summed into a :class:`SourceCount`.

    ``field`` names where the ERP reports it; ``exact`` whether the ERP says it
    is exact. A series that reported none makes the whole count unknown.
    """

    def __init__(self, field: str, *, exact: bool, note: str = "") -> None:
        self.field, self.exact, self.note = field, exact, note
        self._totals: list[int | None] = []  # appended from fetch threads: list.append is atomic

    def __call__(self, total: int | None) -> None:
        self._totals.append(total)

    def result(self) -> SourceCount:
        missing = sum(total is None for total in self._totals)
        if missing:
            return SourceCount(None, self.field, False,
                               f"{missing} of {len(self._totals)} request(s) reported no {self.field}")
        requests = f"; summed over {len(self._totals)} requests" if len(self._totals) > 1 else ""
        return SourceCount(sum(t for t in self._totals if t is not None), self.field, self.exact,
                           self.note + requests)


class LastCount:
    """The :class:`SourceCount` of a connector's last completed ``stream_postings``."""

    def __init__(self) -> None:
        self.value = SourceCount(None, "", False, "no stream_postings has completed")

    def track(self, batches: Iterator[Batch], count: Callable[[], SourceCount]) -> Iterator[Batch]:
        """``batches``, recording ``count()`` once they are all read (an unfinished read records none)."""
        self.value = SourceCount(None, "", False, "the last stream_postings did not complete")
        yield from batches
        self.value = count()
