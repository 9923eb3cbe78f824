"""SOAP 1.1 over HTTP for connectors of SOAP web services: envelopes out, streamed records in.

SOAP services answer a search with one document, however large (24SevenOffice's
``GetTransactions`` has no paging). Parsing it as a tree would hold the whole
answer in memory, so answers are read with lxml's pull parser as the bytes
arrive: each record element is handed to the caller when it closes and freed
at once. A ``soap:Fault`` (ASP.NET web services send it with HTTP 500) becomes
:class:`SoapFault`; other 5xx answers, dropped connections and bodies that do
not parse are retried with backoff, like the JSON client's. Because a record
may already have been handed over when a stream breaks, each attempt starts
with ``handler.reset()``: callers collect one request's records and start
afresh, so a retry never doubles rows. Messages name the connection, company
and operation; never a header, cookie or request body (they carry secrets).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from osr_pipelines.connectors.base import ConnectorError, MalformedResponse, SourceUnavailable
from osr_pipelines.connectors.http import RateLimiter, RetryPolicy

log = logging.getLogger(__name__)

ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
FAULT = f"{{{ENVELOPE_NS}}}Fault"

_NO_HEADERS = httpx.Headers()


class SoapFault(ConnectorError):
    """A ``soap:Fault`` answer: the service refused or failed the operation; ``text`` is its ``faultstring``."""

    def __init__(self, text: str, *, code: str, operation: str, connection: str, company: str | None) -> None:
        super().__init__(f"{operation} answered a SOAP fault ({code}): {text}", connection=connection,
                         company=company)
        self.text = text
        self.code = code
        self.operation = operation


class SoapTimeout(SourceUnavailable):
    """The answer did not arrive within the timeout; a caller may ask for less instead of retrying."""


class Handler(Protocol):
    """Receives the record elements of one answer; ``reset`` starts each attempt afresh."""

    def reset(self) -> None: ...

    def element(self, element: etree._Element) -> None: ...


def text_element(name: str, value: object) -> str:
    """``<name>value</name>``, the value escaped."""
    return f"<{name}>{escape(str(value))}</{name}>"


def nil_element(name: str) -> str:
    """An element the schema requires (``minOccurs=1``) but that is nillable, sent as nil."""
    return f'<{name} xsi:nil="true" />'


def envelope(operation: str, namespace: str, inner: str = "") -> bytes:
    """A SOAP 1.1 request envelope calling ``operation`` of ``namespace`` with the parts in ``inner``."""
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:xsi="{XSI_NS}" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="{ENVELOPE_NS}"><soap:Body>'
            f'<{operation} xmlns="{namespace}">{inner}</{operation}></soap:Body></soap:Envelope>').encode()


def child_text(element: etree._Element, namespace: str, name: str) -> str | None:
    """The text of ``element``'s child ``name`` (``None`` when absent or nil)."""
    child = element.find(f"{{{namespace}}}{name}" if namespace else name)
    if child is None or child.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return child.text or ""


def free(element: etree._Element) -> None:
    """Drop a handled record and the siblings before it, so the parsed tree never grows."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class Collect:
    """A handler keeping what ``convert`` makes of each record (for small answers: lists of dimensions)."""

    def __init__(self, convert: Callable[[etree._Element], object]) -> None:
        self.convert = convert
        self.items: list = []

    def reset(self) -> None:
        self.items = []

    def element(self, element: etree._Element) -> None:
        self.items.append(self.convert(element))


class SoapClient:
    """One keep-alive connection pool for a SOAP service family, with retries and a rate limiter."""

    def __init__(self, *, connection: str, timeout: float = 120.0, retry: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, max_connections: int = 4) -> None:
        self.connection = connection
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self.sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
                                    limits=httpx.Limits(max_connections=max_connections,
                                                        max_keepalive_connections=max_connections))

    def backoff(self, failures: int) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def call(self, url: str, action: str, body: bytes, *, operation: str, records: Iterable[str],
             handler: Handler, company: str | None, cookies: Mapping[str, str] | None = None,
             retry_timeouts: bool = True, url_option: str | None = None) -> None:
        """POST ``body`` with ``SOAPAction: action`` and hand each element named in ``records`` to ``handler``.

        ``records`` are Clark names (``{namespace}Transaction``); nested records
        arrive inside their parent. Raises :class:`SoapFault` for a fault,
        :class:`SoapTimeout` at once on a read timeout unless ``retry_timeouts``,
        and :class:`SourceUnavailable` once retrying has not helped; ``url_option`` is the connection
        option that holds ``url``'s address, named when nothing answers there.
        """
        tags = (*records, FAULT)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"', "Accept": "text/xml"}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        failures = malformed = waits = connects = 0
        while True:
            handler.reset()
            if self.limiter is not None:
                self.limiter.before_request()
            status = 0
            response_headers = _NO_HEADERS
            failure: str | None = None
            try:
                with self._client.stream("POST", url, content=body, headers=headers) as response:
                    status, response_headers = response.status_code, response.headers
                    if status == 200 or (status == 500 and _is_xml(response)):
                        self._parse(response, tags, handler, operation, company)
                    else:
                        response.read()
            except SoapFault:
                raise
            except httpx.TimeoutException as exc:
                if not retry_timeouts and isinstance(exc, httpx.ReadTimeout):
                    raise SoapTimeout(f"{operation} gave no complete answer within the timeout",
                                      connection=self.connection, company=company) from None
                failure = type(exc).__name__
            except httpx.ConnectError:
                # Nothing listens there (or no such host): one retry covers a restart, minutes would not help.
                connects += 1
                if connects >= self.retry.connect_attempts:
                    raise SourceUnavailable(
                        f"{operation}: could not connect to {_origin(url)} ({connects} attempts); check that the "
                        "service (or sandbox) is up and reachable, and the connection's "
                        f"{f'{url_option} option' if url_option else 'URL options'}",
                        connection=self.connection, company=company) from None
                self.sleep(self.backoff(connects))
                continue
            except (httpx.TransportError, httpx.DecodingError) as exc:
                failure = type(exc).__name__
            except etree.XMLSyntaxError:
                malformed += 1
                if malformed >= self.retry.malformed_attempts:
                    raise MalformedResponse(f"{operation} answered XML that does not parse, {malformed} times",
                                            connection=self.connection, company=company) from None
                self.sleep(self.backoff(malformed))
                continue
            finally:
                if self.limiter is not None:
                    self.limiter.after_response(status, response_headers)
            if failure is None and status == 200:
                return
            if failure is None and status == 429:
                waits += 1
                if waits > self.retry.rate_limit_waits:
                    raise SourceUnavailable(f"{operation} still rate limited after {waits - 1} waits",
                                            connection=self.connection, company=company)
                delay = min(_seconds(response_headers.get("retry-after")) or self.backoff(waits),
                            self.retry.max_rate_limit_sleep)
                log.info("%s: rate limited, sleeping %.1fs", operation, delay)
                self.sleep(delay)
                continue
            if failure is None and status < 500:
                raise ConnectorError(f"{operation} answered HTTP {status}", connection=self.connection,
                                     company=company)
            failures += 1
            what = failure or f"HTTP {status}"
            if failures >= self.retry.attempts:
                raise SourceUnavailable(f"{operation} failed after {failures} attempts ({what}); check that the "
                                        "service (or sandbox) is up and the connection's URL options",
                                        connection=self.connection, company=company)
            delay = self.backoff(failures)
            log.info("%s: %s, retry %d in %.1fs", operation, what, failures, delay)
            self.sleep(delay)

    def _parse(self, response: httpx.Response, tags: tuple[str, ...], handler: Handler, operation: str,
               company: str | None) -> None:
        parser = etree.XMLPullParser(events=("end",), tag=tags, resolve_entities=False, no_network=True,
                                     huge_tree=True)
        for chunk in response.iter_raw(65_536) if _identity(response) else response.iter_bytes(65_536):
            parser.feed(chunk)
            self._drain(parser, handler, operation, company)
        parser.close()
        self._drain(parser, handler, operation, company)

    def _drain(self, parser: etree.XMLPullParser, handler: Handler, operation: str, company: str | None) -> None:
        for _, element in parser.read_events():
            if element.tag == FAULT:
                raise SoapFault((child_text(element, "", "faultstring") or "").strip(),
                                code=(child_text(element, "", "faultcode") or "").strip(), operation=operation,
                                connection=self.connection, company=company)
            handler.element(element)
            free(element)

    def close(self) -> None:
        self._client.close()


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _is_xml(response: httpx.Response) -> bool:
    return "xml" in response.headers.get("content-type", "")


def _identity(response: httpx.Response) -> bool:
    """Raw bytes are the body itself when no content encoding applies (saves a copy per chunk)."""
    return response.headers.get("content-encoding", "identity") in ("", "identity")


def _origin(url: str) -> str:
    """Scheme, host and port of ``url``: where nothing answered, without the service's path."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}{f':{parts.port}' if parts.port else ''}"
