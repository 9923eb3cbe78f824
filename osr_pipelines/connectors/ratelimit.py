"""A request-rate limit shared by every process that uses one API key.

Some ERPs throttle per key, whatever the number of clients (PowerOffice Go:
10 requests per second per subscription key). Dagster runs each import in its
own process, so a limit kept in memory would let two concurrent runs of one
connection together send twice the allowed rate and collect 429s. This
limiter keeps the grant times of the last ``limit`` requests in a small state
file, locked with ``fcntl.flock`` while a process reserves its slot. The file
is named after a hash of the key, never the key itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from osr_pipelines.settings import osr_home


def state_path(directory: Path | str | None, namespace: str, key: str) -> Path:
    """The state file for ``key``: ``<directory>/<namespace>-<sha256(key)[:24]>.rate``.

    ``directory`` defaults to ``$OSR_HOME/ratelimits``, which every run of one installation shares.
    """
    base = Path(directory) if directory else osr_home() / "ratelimits"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return base / f"{namespace}-{digest}.rate"


class SharedRateLimiter:
    """At most ``limit`` requests in any ``period`` seconds, across threads and processes.

    Each request reserves the earliest instant at which it keeps the window
    within the limit (now, or ``period`` after the ``limit``-th latest grant),
    records it, releases the lock and sleeps until then. Reserving instead of
    polling keeps waiting processes fair and the lock held for microseconds.
    ``clock`` must be comparable across processes (wall time by default).
    """

    def __init__(self, path: Path, *, limit: int, period: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs limit >= 1 and period > 0")
        self.path = path
        self.limit = limit
        self.period = period
        self._sleep = sleep
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)

    def reserve(self) -> float:
        """Record the next grant and return it (a time on ``clock``), without waiting."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            grants = _parse(_read_all(fd))
            now = self._clock()
            at = now if len(grants) < self.limit else max(now, grants[-self.limit] + self.period)
            grants = sorted([*(g for g in grants if g > at - self.period), at])[-self.limit:]
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, ",".join(f"{g:.6f}" for g in grants).encode())
            return at
        finally:
            os.close(fd)  # closing releases the lock

    def before_request(self) -> None:
        wait = self.reserve() - self._clock()
        if wait > 0:
            self._sleep(wait)

    def after_response(self, status: int, headers: httpx.Headers) -> None:
        """Nothing to learn from answers: 429s and their ``Retry-After`` are the HTTP client's."""


def _read_all(fd: int) -> bytes:
    """The whole state file: with hourly limits (24SevenOffice: 7,200 an hour) it holds thousands of grants."""
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(content: bytes) -> list[float]:
    try:
        return sorted(float(part) for part in content.decode().split(",") if part)
    except ValueError:  # a state file from a crashed writer: start afresh
        return []
