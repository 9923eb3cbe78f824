"""GraphQL over the shared HTTP client: one POST of ``{query, variables}`` per operation.

GraphQL APIs (Xledger, Business NXT, Contracting Works) report most failures as
HTTP 200 with an ``errors`` list rather than with a status code, so the HTTP
client's retries do not see them. This module sends one operation through
:class:`~osr_pipelines.connectors.http.HttpClient` (which still handles 5xx,
429, dropped connections and truncated bodies), retries the errors the caller
declares transient (bounded, with the client's jittered backoff), and raises
:class:`GraphQLErrors` for the rest so that each connector can word them in
its ERP's terms (rejected token, used-up credits, a field the schema lacks).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from osr_pipelines.connectors.base import ConnectorError, MalformedResponse, SourceUnavailable
from osr_pipelines.connectors.http import HttpClient, HttpStatusError, json_decoder

log = logging.getLogger(__name__)

T = TypeVar("T")


class Error(msgspec.Struct, gc=False):
    """One entry of ``errors``: its ``message``, and a code at top level or in ``extensions``."""

    message: str = ""
    code: str | None = None
    extensions: dict[str, Any] | None = None
    path: list[str | int] | None = None


class Response(msgspec.Struct, Generic[T], gc=False):
    """The GraphQL response envelope; ``data`` typed by the caller's Struct."""

    data: T | None = None
    errors: list[Error] | None = None


@dataclass(frozen=True)
class GraphQLError:
    """An error as the API reported it, its code taken from ``extensions.code`` or ``code``, and the
    response ``path`` it concerns (``("useCompany", "generalLedgerTransaction")``), where it names one."""

    message: str
    code: str | None
    path: tuple[str | int, ...] = ()

    @classmethod
    def of(cls, raw: Any) -> GraphQLError:
        if isinstance(raw, Error):
            message, code, extensions, path = raw.message, raw.code, raw.extensions, raw.path
        elif isinstance(raw, Mapping):
            message, code, extensions = str(raw.get("message", "")), raw.get("code"), raw.get("extensions")
            path = raw.get("path")
        else:
            return cls(str(raw), None)
        if isinstance(extensions, Mapping) and extensions.get("code"):
            code = str(extensions["code"])
        return cls(message, code, tuple(p for p in path if isinstance(p, str | int)) if isinstance(path, list) else ())

    @property
    def unknown_field(self) -> str | None:
        """The field a validation error names (``Cannot query field "x" on type "T"``), if any."""
        match = _UNKNOWN_FIELD.search(self.message)
        return match.group(1) if match else None


_UNKNOWN_FIELD = re.compile(r"""Cannot query field ["']([^"']+)["']""", re.IGNORECASE)


class GraphQLErrors(ConnectorError):
    """The API answered with ``errors`` (or a 4xx status) that retrying does not fix.

    ``status`` is the HTTP status (200 for errors in a normal answer).
    """

    def __init__(self, errors: list[GraphQLError], *, status: int, connection: str, company: str | None) -> None:
        text = "; ".join(f"{e.message} ({e.code})" if e.code else e.message for e in errors) or f"HTTP {status}"
        super().__init__(text, connection=connection, company=company)
        self.errors = errors
        self.status = status

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors if e.code}


def errors_of(body: Any) -> list[GraphQLError]:
    """The ``errors`` of a decoded answer (a dict or a :class:`Response`), empty when there are none."""
    raw = body.get("errors") if isinstance(body, Mapping) else getattr(body, "errors", None)
    return [GraphQLError.of(e) for e in raw] if isinstance(raw, list) else []


def typed_decoder(data_type: type) -> Callable[[bytes], Response]:
    """A decoder of whole answers into ``Response[data_type]``, for large pages.

    Numeric strings decode into ``float`` fields (``strict=False``), since many
    GraphQL APIs send amounts as strings. The cyclic GC is paused while a page of
    10 000 nodes is built. Bodies that do not parse raise :class:`InvalidJson` (so
    the HTTP client retries them); JSON of another shape raises
    :class:`msgspec.ValidationError`.
    """
    return json_decoder(Response[data_type], strict=False)


class GraphQLClient:
    """Sends operations to one GraphQL endpoint.

    ``retryable`` says which errors are transient (rate and concurrency limits);
    an answer whose errors are all transient is retried up to ``retries`` times
    with backoff, then fails as :class:`SourceUnavailable`. Other errors raise
    :class:`GraphQLErrors` at once: a validation error never loops.
    """

    def __init__(self, http: HttpClient, path: str = "", *, retryable: Callable[[GraphQLError], bool],
                 headers: Mapping[str, str] | None = None, retries: int = 10) -> None:
        self.http = http
        self.path = path
        self.retryable = retryable
        self.headers = dict(headers or {})
        self.retries = retries

    def execute(self, query: str, variables: Mapping[str, Any] | None = None, *, company: str | None = None,
                decoder: Callable[[bytes], Any] | None = None) -> Any:
        """The ``data`` of one operation: a dict, or the typed data of ``decoder`` (see :func:`typed_decoder`)."""
        payload = {"query": query, "variables": dict(variables or {})}
        attempt = 0
        while True:
            try:
                body = self.http.request_json("POST", self.path, json=payload, headers=self.headers,
                                              company=company, decoder=decoder)
            except HttpStatusError as err:
                raise GraphQLErrors(errors_of(err.payload), status=err.status, connection=self.http.connection,
                                    company=company) from None
            if body is None:
                raise MalformedResponse(f"POST {self.path or '/'} answered an empty body, not a GraphQL response",
                                        connection=self.http.connection, company=company)
            errors = errors_of(body)
            if not errors:
                return body.get("data") if isinstance(body, Mapping) else body.data
            if not all(self.retryable(e) for e in errors):
                raise GraphQLErrors(errors, status=200, connection=self.http.connection, company=company)
            attempt += 1
            codes = ", ".join(sorted({e.code or e.message for e in errors}))
            if attempt > self.retries:
                raise SourceUnavailable(f"POST {self.path or '/'} still refused after {self.retries} retries ({codes})",
                                        connection=self.http.connection, company=company)
            delay = self.http.backoff(attempt)
            log.info("GraphQL %s, retry %d in %.1fs", codes, attempt, delay)
            self.http.sleep(delay)
