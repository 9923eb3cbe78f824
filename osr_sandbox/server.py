"""Serving sandbox ERPs over real HTTP, with faults injected on purpose.

Every emulated ERP is an ASGI app over :class:`SyntheticBooks`. This module
runs such an app under uvicorn on loopback (in a thread for tests, blocking
for the CLI) and wraps it in a fault injector, so that connectors are proven
against 429 bursts, 5xx answers, slow answers, connections dropped mid-body
and truncated JSON, reproducibly (the injector's RNG is seeded).
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import uvicorn

from osr_pipelines.connectors.synthetic_books import Mutations, SyntheticBooks

ASGIApp = Callable[..., Any]
Headers = list[tuple[bytes, bytes]]

FAULT_KINDS: tuple[str, ...] = ("429", "500", "slow", "drop", "malformed")

#: Header a faulty answer carries, so that test recorders know its body is broken on purpose.
FAULT_HEADER = "x-sandbox-fault"


def parse_faults(spec: str | None) -> dict[str, float]:
    """Parse ``"429=0.05,500=0.05,slow=0.02,drop=0.02,malformed=0.02"`` into rates per kind."""
    rates: dict[str, float] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        kind, _, rate = part.partition("=")
        kind = kind.strip()
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault '{kind}' (known: {', '.join(FAULT_KINDS)})")
        rates[kind] = float(rate)
    if sum(rates.values()) > 1:
        raise ValueError(f"fault rates add up to more than 1: {spec}")
    return rates


@dataclass(frozen=True)
class SandboxErp:
    """An emulated ERP: how to build its app, and a connection that logs into it.

    ``login`` is what lets tests, the benchmark and the demo drive every
    sandbox the same way: it returns the connection options and credential
    values this sandbox accepts. Each sandbox uses the books' company ids as
    the ERP's own company ids, so imported rows compare with the books.
    """

    #: (books, fault spec, string options) -> ASGI app
    app: Callable[[SyntheticBooks, str | None, Mapping[str, str]], ASGIApp]
    #: (base URL, books, the same options) -> (connection options, credential values)
    login: Callable[[str, SyntheticBooks, Mapping[str, str]], tuple[dict[str, str], dict[str, str]]]


@dataclass(frozen=True)
class FaultStyle:
    """How an ERP words a failure: its error envelope and its rate-limit headers."""

    error_body: Callable[[int, str], bytes]
    rate_limit_headers: Callable[[int], Headers]
    #: The status of an injected rate-limit answer: 429, or 200 for APIs that report limits
    #: in the body (GraphQL ``errors``); ``error_body`` still receives 429.
    rate_limit_status: int = 429


@dataclass(frozen=True)
class Grant:
    """A fixed window's answer to one request: whether it may pass, and what the rate headers say."""

    allowed: bool
    limit: int
    remaining: int
    #: whole seconds until the window resets
    reset: int


class FixedWindows:
    """``limit`` requests per ``period`` seconds of ``clock`` for each key, windows starting at first use.

    Tripletex, Visma.net and Xledger count this way; each sandbox words the
    :class:`Grant` as its ERP's headers or errors. ``rejected`` counts refusals,
    so tests can prove that a client spent its budget without provoking any.
    """

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self.limit, self.period, self.clock = limit, period, clock
        self.windows: dict[str, tuple[float, int]] = {}
        self.rejected = 0

    def take(self, key: str = "") -> Grant:
        now = self.clock()
        started, used = self.windows.get(key, (now, 0))
        if now - started >= self.period:
            started, used = now, 0
        allowed = used < self.limit
        used += allowed
        self.rejected += not allowed
        self.windows[key] = (started, used)
        reset = max(0, round(self.period - (now - started) + 0.4999))
        return Grant(allowed, self.limit, self.limit - used, reset)


class BearerTokens:
    """The access tokens an OAuth sandbox issued, each for a subject (a company, a tenant) until it expires."""

    def __init__(self, clock: Callable[[], float], prefix: str = "") -> None:
        self.clock = clock
        self.prefix = prefix
        self._issued: dict[str, tuple[str, float]] = {}  # token -> (subject, expiry on clock)

    def issue(self, subject: str, lifetime: float) -> str:
        token = self.prefix + secrets.token_urlsafe(32)
        self._issued[token] = (subject, self.clock() + lifetime)
        return token

    def subject(self, authorization: str | None) -> str | None:
        """The subject of an ``Authorization: Bearer`` header's token; ``None`` if unknown or expired."""
        scheme, _, token = (authorization or "").partition(" ")
        issued = self._issued.get(token) if scheme.lower() == "bearer" else None
        return issued[0] if issued is not None and issued[1] > self.clock() else None

    def clear(self) -> None:
        """Invalidate every token, as if their lifetime had passed."""
        self._issued.clear()


class _DroppedConnection(Exception):
    """Raised inside uvicorn to make it close a connection mid-body."""


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging the tracebacks of connections dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _DroppedConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class FaultInjector:
    """ASGI middleware that breaks a seeded share of HTTP answers.

    A 429 starts a burst of ``burst`` consecutive 429s, counted in requests
    rather than wall time so that clients with a fake sleep stay fast.
    """

    def __init__(self, app: ASGIApp, spec: str | None, style: FaultStyle, *, seed: int = 7,
                 burst: int = 3, reset_seconds: int = 2, slow_seconds: float = 0.2) -> None:
        self.app = app
        self.state = getattr(app, "state", None)  # the wrapped app's state stays reachable for tests
        self.rates = parse_faults(spec)
        self.style = style
        self.rng = random.Random(seed)
        self.burst = burst
        self.reset_seconds = reset_seconds
        self.slow_seconds = slow_seconds
        self.counts = dict.fromkeys(FAULT_KINDS, 0)
        self._burst_left = 0

    def _draw(self) -> str | None:
        if self._burst_left > 0:
            self._burst_left -= 1
            return "429"
        roll = self.rng.random()
        for kind, rate in self.rates.items():
            if roll < rate:
                if kind == "429":
                    self._burst_left = self.burst - 1
                return kind
            roll -= rate
        return None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        kind = self._draw()
        if kind is None:
            await self.app(scope, receive, send)
            return
        self.counts[kind] += 1
        if kind == "slow":
            await asyncio.sleep(self.slow_seconds)
            await self.app(scope, receive, send)
        elif kind in ("429", "500"):
            status = int(kind) if kind == "429" else self.rng.choice((500, 502, 503))
            headers = self.style.rate_limit_headers(self.reset_seconds) if status == 429 else []
            sent = self.style.rate_limit_status if status == 429 else status
            await _send_body(send, sent, self.style.error_body(status, "injected fault"),
                             [*headers, (FAULT_HEADER.encode(), kind.encode())])
        else:
            status, headers, body = await _capture(self.app, scope, receive)
            if kind == "malformed" and status == 200:
                await _send_body(send, 200, body[: len(body) // 2], [
                    (k, v) for k, v in headers if k.lower() != b"content-length"
                ] + [(FAULT_HEADER.encode(), b"malformed")])
            elif kind == "drop":
                await send({"type": "http.response.start", "status": status,
                            "headers": [*headers, (FAULT_HEADER.encode(), b"drop")]})
                await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
                raise _DroppedConnection()
            else:
                await _send_body(send, status, body, [(k, v) for k, v in headers if k.lower() != b"content-length"])


async def _capture(app: ASGIApp, scope: dict, receive: Callable) -> tuple[int, Headers, bytes]:
    """Run ``app`` and collect its whole answer, so that the injector can break it."""
    start: dict = {}
    chunks: list[bytes] = []

    async def collect(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    return start["status"], list(start.get("headers", [])), b"".join(chunks)


async def _send_body(send: Callable, status: int, body: bytes, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class LiveMutations:
    """Reloads the books' mutation file when another process changed it.

    The value of :meth:`version` changes with every reload, so that caches
    keyed on it never serve postings from before an edit.
    """

    def __init__(self, books: SyntheticBooks) -> None:
        self.books = books
        self._stamp: int | None = self._mtime()

    def _mtime(self) -> int | None:
        path = self.books.mutations_path
        return path.stat().st_mtime_ns if path is not None and path.exists() else None

    def version(self) -> int | None:
        stamp = self._mtime()
        if stamp != self._stamp:
            self.books.mutations = Mutations.load(self.books.mutations_path)
            self._stamp = stamp
        return stamp


class LateEntries:
    """Days whose lines were entered or changed later than the books say: vouchers entered back-dated.

    The books stamp a day's lines on that day. A sandbox whose ERP stamps rows
    with when they were entered or changed asks :meth:`at` first, so that a
    test can enter today a voucher dated two months back (:meth:`touch`).
    """

    def __init__(self) -> None:
        self._when: dict[tuple[str, str], datetime] = {}

    def touch(self, erp_id: str, day: date, when: datetime) -> None:
        """Record the lines of ``erp_id`` dated ``day`` as entered or changed at ``when`` (naive means UTC)."""
        self._when[(erp_id, day.isoformat())] = when if when.tzinfo else when.replace(tzinfo=UTC)

    def at(self, erp_id: str, day: str) -> datetime | None:
        """When the lines of ``erp_id`` dated ``day`` (ISO) were entered late, if they were."""
        return self._when.get((erp_id, day))


def _bound_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:  # the port is taken: the socket is closed here, not left to the collector
        sock.close()
        raise
    return sock


def _server(app: ASGIApp, log_level: str) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                                         timeout_keep_alive=30))


@contextmanager
def running(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` in a background thread; yields its base URL (``http://127.0.0.1:<port>``)."""
    sock = _bound_socket(host, port)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("sandbox server failed to start")
            thread.join(0.01)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted (the CLI's ``osr sandbox serve``)."""
    sock = _bound_socket(host, port)
    _server(app, log_level).run(sockets=[sock])
