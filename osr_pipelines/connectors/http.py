"""Shared HTTP machinery for every REST and GraphQL connector.

ERPs fail in the same few ways: 5xx answers, dropped connections, truncated
JSON on a 200, and 429s that name when the budget resets. One client handles
all of them, so each connector only speaks its ERP's paths and envelopes.
Error messages name the connection, company, method and path, never headers,
tokens or query strings (some ERPs take tokens as query parameters).
"""

from __future__ import annotations

import email.utils
import gc
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import msgspec
import orjson

from osr_pipelines.connectors.base import ConnectorError, MalformedResponse, SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


class _RedactQueryStrings(logging.Filter):
    """httpx logs full URLs at INFO; strip their query strings, which may carry tokens."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(a.copy_with(query=None) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_RedactQueryStrings())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on one request."""

    attempts: int = 6  # tries for 5xx answers and transport errors
    connect_attempts: int = 2  # tries when the host refuses connections or does not resolve
    malformed_attempts: int = 3  # tries for 200s whose JSON does not parse
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_waits: int = 20  # 429s in a row before giving up
    max_rate_limit_sleep: float = 900.0


@dataclass(frozen=True)
class RateLimitHeaders:
    """Where an ERP announces its request budget.

    ``reset`` holds seconds until the budget resets (Tripletex's
    ``X-Rate-Limit-Reset``); ``Retry-After`` (seconds or an HTTP date) is read
    as a fallback on 429s.
    """

    remaining: str | None = "X-Rate-Limit-Remaining"
    reset: str | None = "X-Rate-Limit-Reset"
    retry_after: str = "Retry-After"


class RateLimiter(Protocol):
    """Client-side throttle consulted around every request (also from prefetch threads)."""

    def before_request(self) -> None: ...

    def after_response(self, status: int, headers: httpx.Headers) -> None:
        """Called once per ``before_request``; status 0 and no headers when no answer came."""


class RateBudget:
    """Spends the budget the ERP announces and waits for its reset instead of provoking 429s.

    ``reserve`` requests are left for other clients of the same login. With
    requests in flight on several threads, answers arrive out of order: an
    answer's ``remaining`` does not count the requests sent after it, so those
    are subtracted, and within one rate window the estimate only goes down
    (a late answer from earlier must not raise it). A reset further away than
    the current window's starts a new window.
    """

    def __init__(self, headers: RateLimitHeaders, sleep: Callable[[float], None], reserve: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._headers = headers
        self._sleep = sleep
        self._reserve = reserve
        self._clock = clock
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset: float = 0.0
        self._window_ends = 0.0
        self._in_flight = 0

    def before_request(self) -> None:
        with self._lock:
            if self._remaining is not None and self._remaining <= self._reserve:
                self._sleep(self._reset)
                self._remaining = None
            elif self._remaining is not None:
                self._remaining -= 1
            self._in_flight += 1

    def after_response(self, status: int, headers: httpx.Headers) -> None:
        remaining = _number(headers.get(self._headers.remaining)) if self._headers.remaining else None
        reset = _number(headers.get(self._headers.reset)) if self._headers.reset else None
        with self._lock:
            self._in_flight -= 1
            if remaining is None:
                return
            estimate = int(remaining) - self._in_flight
            reset = max(reset or 0.0, 0.0)
            ends = self._clock() + reset
            if self._remaining is None or ends > self._window_ends + 1.0:
                self._remaining, self._reset, self._window_ends = estimate, reset, ends
            elif estimate < self._remaining:
                self._remaining, self._reset = estimate, reset


class HttpStatusError(ConnectorError):
    """A 4xx answer that retrying cannot fix; connectors translate it into their own terms."""

    def __init__(self, message: str, *, status: int, payload: Any, connection: str, company: str | None) -> None:
        super().__init__(message, connection=connection, company=company)
        self.status = status
        self.payload = payload


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


_NO_HEADERS = httpx.Headers()
_INVALID = object()
#: Request errors retrying cannot fix; their text may quote a header value, a secret, so it is never shown.
_UNSENDABLE = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL, UnicodeEncodeError)


def _client(*, connection: str, **kwargs: Any) -> httpx.Client:
    """``httpx.Client(**kwargs)``; a header value that cannot be sent is named as such, never quoted."""
    try:
        return httpx.Client(**kwargs)
    except UnicodeEncodeError:
        pass  # raised below, outside the except block: the encoder's message quotes the value (a secret)
    raise ConnectorError("a header value (a credential with a stray character?) cannot be sent over HTTP",
                         connection=connection)


class HttpClient:
    """One keep-alive connection pool per connector, with retries, backoff and rate limiting."""

    def __init__(
        self,
        base_url: str,
        *,
        connection: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        rate_headers: RateLimitHeaders | None = None,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_connections: int = 4,
        url_option: str = "base_url",
    ) -> None:
        self.connection = connection
        self.url_option = url_option  # the connection option holding ``base_url``, named when nothing answers there
        self.retry = retry or RetryPolicy()
        self.rate_headers = rate_headers or RateLimitHeaders()
        self.limiter = limiter
        self.sleep = sleep
        self._rng = rng or random.Random()
        self._client = _client(
            connection=connection,
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter, so that many clients do not retry in step."""
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def rate_limit_delay(self, response: httpx.Response, waits: int) -> float:
        """Seconds until the reset the ERP names; backoff if it names none."""
        seconds = _number(response.headers.get(self.rate_headers.reset)) if self.rate_headers.reset else None
        if seconds is None:
            retry_after = response.headers.get(self.rate_headers.retry_after)
            seconds = _number(retry_after)
            if seconds is None and retry_after:
                try:
                    when = email.utils.parsedate_to_datetime(retry_after)
                    seconds = when.timestamp() - time.time()
                except (TypeError, ValueError):  # neither seconds nor a date: back off instead
                    seconds = None
        if seconds is None:
            seconds = self.backoff(waits)
        return min(max(seconds, 0.0), self.retry.max_rate_limit_sleep)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
        company: str | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        decoder: Callable[[bytes], Any] | None = None,
        with_headers: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON body (``None`` when empty).

        Retries 5xx, transport errors and unparsable 200 bodies with backoff,
        sleeps through 429s, and raises :class:`HttpStatusError` on other 4xx.
        ``decoder`` replaces :func:`decode` for 200 bodies (a typed decoder, say);
        it raises :class:`InvalidJson` for bodies that do not parse, and
        ``msgspec.ValidationError`` for JSON of another shape, which becomes a
        :class:`MalformedResponse` at once. ``with_headers``
        returns ``(body, response headers)`` instead, for ERPs that page in headers.
        """
        what = f"{method} {path}"
        failures = malformed = waits = 0
        content = orjson.dumps(json) if json is not None else None
        sent_headers = dict(headers or {})
        if content is not None:
            sent_headers["Content-Type"] = "application/json"
        while True:
            if self.limiter is not None:
                self.limiter.before_request()
            response: httpx.Response | None = None
            failure: type[Exception] | None = None
            try:
                response = self._client.request(method, path, params=params, auth=auth, content=content,
                                                data=form, headers=sent_headers)
            except (*_UNSENDABLE, httpx.TransportError, httpx.DecodingError) as exc:
                failure = type(exc)
            finally:
                if self.limiter is not None:
                    self.limiter.after_response(*((response.status_code, response.headers) if response is not None
                                                  else (0, _NO_HEADERS)))
            # failures are handled outside the except blocks, so no exception (nor its text) is chained
            if failure is not None and issubclass(failure, _UNSENDABLE):
                raise ConnectorError(f"{what} could not be sent ({failure.__name__}): a URL option or a header "
                                     "value (a credential with a stray character?) is invalid",
                                     connection=self.connection, company=company)
            if failure is httpx.DecodingError:
                malformed = self._malformed(what, malformed, company)
                continue
            if failure is httpx.ConnectError:
                # Nothing listens there (or no such host): retrying for minutes will not change that,
                # and every step of the run would wait as long. One retry covers a restart.
                failures += 1
                if failures >= self.retry.connect_attempts:
                    raise SourceUnavailable(
                        f"{what}: could not connect to {self._client.base_url} ({failures} attempts); check that "
                        f"the ERP (or sandbox) is up and reachable, and the connection's {self.url_option} option",
                        connection=self.connection, company=company)
                self.sleep(self.backoff(failures))
                continue
            if failure is not None:
                failures += 1
                if failures >= self.retry.attempts:
                    raise SourceUnavailable(f"{what} failed after {failures} attempts ({failure.__name__})",
                                            connection=self.connection, company=company)
                delay = self.backoff(failures)
                log.info("%s: %s, retry %d in %.1fs", what, failure.__name__, failures, delay)
                self.sleep(delay)
                continue
            assert response is not None
            status = response.status_code
            if status == 429:
                waits += 1
                if waits > self.retry.rate_limit_waits:
                    raise SourceUnavailable(f"{what} still rate limited after {waits - 1} waits",
                                            connection=self.connection, company=company)
                delay = self.rate_limit_delay(response, waits)
                log.info("%s: rate limited, sleeping %.1fs until the reset", what, delay)
                self.sleep(delay)
                continue
            if status >= 500:
                failures += 1
                if failures >= self.retry.attempts:
                    raise SourceUnavailable(f"{what} answered HTTP {status} {failures} times",
                                            connection=self.connection, company=company)
                delay = self.backoff(failures)
                log.info("%s: HTTP %d, retry %d in %.1fs", what, status, failures, delay)
                self.sleep(delay)
                continue
            if status >= 400:
                raise HttpStatusError(f"{what} answered HTTP {status}", status=status,
                                      payload=_try_decode(response.content),
                                      connection=self.connection, company=company)
            if not response.content:
                return (None, response.headers) if with_headers else None
            shape: str | None = None
            try:
                body = (decoder or decode)(response.content)
            except (orjson.JSONDecodeError, InvalidJson):
                body = _INVALID
            except msgspec.ValidationError as exc:
                body, shape = _INVALID, str(exc)
            if shape is not None:  # JSON, but not of the shape asked for: retrying will not change it
                raise MalformedResponse(f"{what} answered an unexpected object shape ({shape})",
                                        connection=self.connection, company=company)
            if body is _INVALID:
                malformed = self._malformed(what, malformed, company)
                continue
            return (body, response.headers) if with_headers else body

    def _malformed(self, what: str, malformed: int, company: str | None) -> int:
        """Count one unreadable body: back off, or fail once retrying has not helped."""
        malformed += 1
        if malformed >= self.retry.malformed_attempts:
            raise MalformedResponse(f"{what} answered invalid JSON (or a corrupt encoding) {malformed} times",
                                    connection=self.connection, company=company)
        delay = self.backoff(malformed)
        log.info("%s: unreadable body, retry %d in %.1fs", what, malformed, delay)
        self.sleep(delay)
        return malformed

    def close(self) -> None:
        self._client.close()


class InvalidJson(ValueError):
    """A body that is not JSON at all (as opposed to JSON of an unexpected shape)."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a page is decoded or mapped: 10 000 new objects otherwise
    trigger collections that scan the whole heap and double the time spent."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def decode(content: bytes) -> Any:
    """orjson decoding, the cyclic GC paused."""
    with gc_paused():
        return orjson.loads(content)


def json_decoder(data_type: Any, *, strict: bool = True) -> Callable[[bytes], Any]:
    """A msgspec decoder of whole pages straight into ``data_type`` (Structs), the cyclic GC paused.

    Bodies that do not parse raise :class:`InvalidJson`, so the HTTP client
    retries them; JSON of another shape raises :class:`msgspec.ValidationError`.
    ``strict=False`` lets numeric strings decode into numbers.
    """
    decoder = msgspec.json.Decoder(data_type, strict=strict)

    def decode_page(content: bytes) -> Any:
        with gc_paused():
            try:
                return decoder.decode(content)
            except msgspec.ValidationError:
                raise
            except msgspec.DecodeError as exc:
                raise InvalidJson(str(exc)) from None

    return decode_page


def _try_decode(content: bytes) -> Any:
    try:
        return orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        return None


_DONE = object()


class _Feeder:
    """A thread that reads one source into a bounded queue, so it runs at most ``depth`` items ahead."""

    def __init__(self, source: Iterator[T], depth: int) -> None:
        self.slots: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self._source = source
        self._thread = threading.Thread(target=self._produce, name="fetch-ahead", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._source:
                while not self.stop.is_set():
                    try:
                        self.slots.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self.stop.is_set():
                    return
            self.slots.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self.slots.put((_DONE, exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def items(self) -> Iterator[T]:
        while True:
            item, error = self.slots.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item

    def cancel(self) -> None:
        """Stop after the item in hand; drain so that a blocked ``put`` returns."""
        self.stop.set()
        while self._thread.is_alive():
            try:
                self.slots.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.05)


def fetch_ahead(sources: Iterable[Iterator[T]], *, workers: int = 1, depth: int = 1) -> Iterator[T]:
    """The items of ``sources``, in order, with up to ``workers`` sources read concurrently.

    Each active source is read by its own thread at most ``depth`` items ahead,
    so memory stays bounded by ``workers * depth`` pages whatever the history.
    Sources are typically the pages of one window (a year, say) or a single
    page request; network latency then overlaps instead of adding up, while
    the rate limiter shared by the threads keeps the ERP's budget. Exceptions
    reach the caller in order; closing the returned generator stops every
    thread after the item it is working on.
    """
    pending = iter(sources)
    active: deque[_Feeder] = deque()
    try:
        while True:
            while len(active) < workers:
                source = next(pending, None)
                if source is None:
                    break
                active.append(_Feeder(source, depth))
            if not active:
                return
            yield from active[0].items()
            active.popleft()
    finally:
        for feeder in active:
            feeder.cancel()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Produce ``items`` up to ``depth`` steps ahead in a background thread.

    While the caller maps page *n*, pages *n+1* to *n+depth* are being fetched and decoded.
    """
    return fetch_ahead([items], depth=depth)
