"""The loop guard every paged read shares.

A server that ignores the paging parameter answers the same page forever; a
read that trusted it would load the same rows again and again. Each paged
read passes its pages through a :class:`RepeatGuard`, which ends it with one
clear error the moment a page repeats the one before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from osr_pipelines.connectors.base import MalformedResponse


def item_key(field: str) -> Callable[[Any], Any]:
    """``field`` of a page item, whether a decoded dict or a typed object."""
    return lambda item: item.get(field) if isinstance(item, dict) else getattr(item, field, None)


class RepeatGuard:
    """Compares each page's first item, last item and length with the page before."""

    def __init__(self, *, connection: str, company: str | None, path: str, parameter: str,
                 key: Callable[[Any], Any] = lambda item: item) -> None:
        self.connection, self.company, self.path, self.parameter, self.key = connection, company, path, parameter, key
        self._previous: tuple | None = None

    def check(self, page: Sequence[Any], value: object) -> None:
        """Raise :class:`MalformedResponse` if ``page`` (asked for with ``parameter=value``) repeats the last one."""
        if not page:
            return
        edges = (self.key(page[0]), self.key(page[-1]), len(page))
        if edges == self._previous:
            raise MalformedResponse(
                f"GET {self.path} answered the page before again for {self.parameter}={value}: the server ignores "
                f"'{self.parameter}', so paging stopped instead of reading the same page again",
                connection=self.connection, company=self.company, field=self.parameter)
        self._previous = edges
