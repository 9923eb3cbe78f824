"""The shared HTTP client and sandbox server, against small ASGI apps on loopback."""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.base import ConnectorError, MalformedResponse, SourceUnavailable
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.graphql import GraphQLClient
from osr_pipelines.connectors.http import (
    HttpClient,
    HttpStatusError,
    RateBudget,
    RateLimitHeaders,
    RetryPolicy,
    fetch_ahead,
    json_decoder,
    prefetch,
)
from osr_sandbox.server import FaultInjector, FaultStyle, parse_faults, running

SECRET = "tok-9c1e5d"


def scripted(*answers: tuple[int, bytes, dict[str, str]]) -> Starlette:
    """An app answering each request with the next scripted answer, the last one repeating."""
    script = itertools.chain(answers, itertools.repeat(answers[-1]))

    async def handle(request: Request) -> Response:
        status, body, headers = next(script)
        return Response(body, status, headers, media_type="application/json")

    return Starlette(routes=[Route("/thing", handle, methods=["GET", "PUT", "POST"])])


def client(url: str, sleeps: list[float], **kwargs) -> HttpClient:
    return HttpClient(url, connection="conn-x", sleep=sleeps.append, **kwargs)


def test_retry_after_is_honoured_when_configured_instead_of_x_rate_limit_reset():
    sleeps: list[float] = []
    app = scripted((429, b"{}", {"Retry-After": "7"}), (200, b'{"ok": true}', {}))
    with running(app) as url:
        http = client(url, sleeps, rate_headers=RateLimitHeaders(remaining=None, reset=None))
        assert http.request_json("GET", "/thing") == {"ok": True}
        http.close()
    assert sleeps == [7.0]


def test_5xx_exhaustion_names_connection_and_company_but_no_secret(caplog):
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    with running(scripted((503, b"{}", {}))) as url:
        http = client(url, sleeps, retry=RetryPolicy(attempts=4, base_delay=1, max_delay=3))
        with pytest.raises(SourceUnavailable) as caught:
            http.request_json("PUT", "/thing", params={"token": SECRET}, auth=("0", SECRET), company="1001")
        http.close()
    assert str(caught.value) == "connection 'conn-x', ERP company '1001': PUT /thing answered HTTP 503 4 times"
    assert len(sleeps) == 3 and all(0.5 <= s <= 3 for s in sleeps)  # capped, jittered backoff
    assert SECRET not in caplog.text and "/thing" in caplog.text


def test_invalid_json_on_a_200_is_retried_then_malformed():
    sleeps: list[float] = []
    with running(scripted((200, b'{"values": [1, 2', {}))) as url:
        http = client(url, sleeps)
        with pytest.raises(MalformedResponse, match=r"invalid JSON \(or a corrupt encoding\) 3 times"):
            http.request_json("GET", "/thing")
        http.close()
    assert len(sleeps) == 2


def test_a_connection_dropped_mid_body_is_retried():
    style = FaultStyle(error_body=lambda status, message: b"{}", rate_limit_headers=lambda reset: [])
    injector = FaultInjector(scripted((200, b'{"values": [' + b"1," * 5000 + b"1]}", {})), "drop=0.5", style,
                             seed=3)
    sleeps: list[float] = []
    with running(injector) as url:
        http = client(url, sleeps)
        for _ in range(6):
            assert len(http.request_json("GET", "/thing")["values"]) == 5001
        http.close()
    assert injector.counts["drop"] > 0 and len(sleeps) == injector.counts["drop"]


def test_other_4xx_are_not_retried():
    sleeps: list[float] = []
    with running(scripted((422, b'{"code": 23000}', {}))) as url:
        http = client(url, sleeps)
        with pytest.raises(HttpStatusError) as caught:
            http.request_json("GET", "/thing")
        http.close()
    assert (caught.value.status, caught.value.payload, sleeps) == (422, {"code": 23000}, [])


def test_prefetch_runs_one_item_ahead_and_passes_errors_on():
    produced: list[int] = []

    def items():
        for i in range(3):
            produced.append(i)
            yield i
        raise ValueError("boom")

    stream = prefetch(items())
    assert next(stream) == 0
    with pytest.raises(ValueError, match="boom"):
        list(stream)
    assert produced == [0, 1, 2]


def test_closing_prefetch_stops_its_thread():
    before = threading.active_count()
    stream = prefetch(iter(range(1000)))
    assert next(stream) == 0
    stream.close()
    assert threading.active_count() == before


def test_fetch_ahead_reads_sources_concurrently_and_yields_them_in_order():
    started = {name: threading.Event() for name in "abc"}

    def source(name: str, waits_for: str | None):
        started[name].set()
        # deadlocks (and fails on the timeout) unless the other source runs at the same time
        if waits_for is not None:
            assert started[waits_for].wait(timeout=5), f"{waits_for} was not read concurrently with {name}"
        yield from (f"{name}{i}" for i in range(3))

    stream = fetch_ahead([source("a", "b"), source("b", "a"), source("c", None)], workers=2, depth=1)
    assert list(stream) == ["a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2"]


def test_fetch_ahead_passes_errors_on_in_order_and_stops_every_thread():
    before = threading.active_count()

    def failing():
        yield "x0"
        raise ValueError("page 2 of x failed")

    stream = fetch_ahead([failing(), iter(range(1000)), iter(range(1000))], workers=3, depth=2)
    assert next(stream) == "x0"
    with pytest.raises(ValueError, match="page 2 of x"):
        next(stream)
    assert threading.active_count() == before


def test_fault_specs_are_parsed_and_checked():
    assert parse_faults("429=0.05,500=0.05,slow=0.02,drop=0.02,malformed=0.02")["drop"] == 0.02
    assert parse_faults(None) == {}
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults("teapot=0.1")
    with pytest.raises(ValueError, match="more than 1"):
        parse_faults("500=0.7,drop=0.7")


def test_rate_budget_is_not_raised_by_a_late_answer_from_earlier_in_the_window():
    sleeps: list[float] = []
    budget = RateBudget(RateLimitHeaders(), sleeps.append)
    headers = [httpx.Headers({"X-Rate-Limit-Remaining": str(n), "X-Rate-Limit-Reset": "30"}) for n in range(5)]
    budget.before_request()
    budget.after_response(200, headers[4])  # 4 left
    for _ in range(4):
        budget.before_request()  # four pages in flight: the server will answer 3, 2, 1, 0
    for remaining in (0, 3, 2, 1):  # the last one sent answers first
        budget.after_response(200, headers[remaining])
    budget.before_request()
    assert sleeps == [30.0]  # the budget is spent: wait for the reset rather than provoke a 429


def test_a_corrupt_compressed_body_is_retried_like_invalid_json():
    sleeps: list[float] = []
    app = scripted((200, b"not gzip at all", {"Content-Encoding": "gzip"}), (200, b'{"ok": true}', {}))
    budget = RateBudget(RateLimitHeaders(), sleeps.append)
    with running(app) as url:
        http = client(url, sleeps, limiter=budget, rng=random.Random(1))
        assert http.request_json("GET", "/thing") == {"ok": True}
    assert len(sleeps) == 1 and budget._in_flight == 0


def test_a_header_that_cannot_be_sent_fails_at_once_without_quoting_it():
    sleeps: list[float] = []
    with running(scripted((200, b"{}", {}))) as url:
        http = client(url, sleeps)
        with pytest.raises(ConnectorError) as per_request:
            http.request_json("GET", "/thing", headers={"Authorization": f"token {SECRET}\u00a0"})
        with pytest.raises(ConnectorError) as per_client:
            client(url, sleeps, headers={"Authorization": f"token {SECRET}\u00a0"})
    assert sleeps == [] and "could not be sent" in str(per_request.value)
    for caught in (per_request, per_client):
        assert SECRET not in str(caught.value) and caught.value.__context__ is None


def test_credentials_are_trimmed_and_control_characters_refused_by_name():
    build = connector_type("synthetic").build
    options = {"companies": "1", "accepted_key_sha256": hashlib.sha256(b"k-1").hexdigest()}
    build("c", options, {"api_key": "k-1\n"}, {"api_key": "KEY_VAR"}).close()  # a secret file's newline
    with pytest.raises(ConnectorError) as caught:
        build("c", options, {"api_key": "k-\x001"}, {"api_key": "KEY_VAR"})
    assert "field 'api_key'" in str(caught.value) and "KEY_VAR" in str(caught.value)


def test_an_empty_graphql_answer_is_a_malformed_response_naming_the_connection():
    sleeps: list[float] = []
    with running(scripted((200, b"", {}))) as url:
        gql = GraphQLClient(client(url, sleeps), "/thing", retryable=lambda error: False)
        with pytest.raises(MalformedResponse, match=r"connection 'conn-x'.*empty body"):
            gql.execute("{ entities { dbId } }")


def test_json_of_another_shape_is_malformed_at_once_without_retrying():
    sleeps: list[float] = []
    page = json_decoder(list[int])
    with running(scripted((200, b'{"values": "not a list"}', {}))) as url, pytest.raises(
            MalformedResponse, match=r"company '7': GET /thing answered an unexpected object shape \(Expected"):
        client(url, sleeps).request_json("GET", "/thing", company="7", decoder=page)
    assert sleeps == []
