"""At most N requests in flight per Business NXT company, across threads and processes.

Business NXT allows 60 concurrent requests per company (and per customer);
Dagster runs each import in its own process, and a direct report may run
beside them, so a count kept in memory would not see the others. A request
holds one of N lock files (``fcntl.flock``) for as long as it is in flight;
the kernel releases the lock when the holder closes the file or dies, so a
crashed run never keeps a slot. Files are named after a hash of the company
and endpoint, under ``$OSR_HOME/ratelimits`` like the rate limiter's state.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from osr_pipelines.settings import osr_home


class ConcurrencySlots:
    """``limit`` lock files per company of one endpoint; :meth:`held` takes a free one, waiting if none is."""

    def __init__(self, endpoint: str, limit: int, *, directory: Path | None = None,
                 sleep: Callable[[float], None] = time.sleep, poll: float = 0.05) -> None:
        self.endpoint = endpoint
        self.limit = limit
        self.directory = directory or osr_home() / "ratelimits"
        self._sleep = sleep
        self._poll = poll

    def _paths(self, company: str) -> list[Path]:
        digest = hashlib.sha256(f"{self.endpoint}|{company}".encode()).hexdigest()[:24]
        return [self.directory / f"business-nxt-{digest}.{n}.slot" for n in range(self.limit)]

    @contextmanager
    def held(self, company: str | None) -> Iterator[None]:
        """One slot of ``company`` while the block runs; requests of no company (the company list) take none."""
        if company is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = self._paths(company)
        while True:
            for path in random.sample(paths, len(paths)):  # random order: waiters do not all try slot 0
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                try:
                    yield
                finally:
                    os.close(fd)  # closing releases the lock
                return
            self._sleep(self._poll)
