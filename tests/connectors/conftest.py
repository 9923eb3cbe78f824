"""Fixtures for connector tests: small books, sandboxes on loopback, and a spec-checking recorder.

The recorder sits outside the sandbox app and keeps every exchange, so that
tests can assert that each request the client made is one the Tripletex
OpenAPI spec defines and each answer fits the spec's response schema.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.tripletex.client import TripletexConnector
from osr_sandbox.server import FAULT_HEADER, running
from osr_sandbox.tripletex import tripletex_app

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "tripletex" / "openapi.json"
CONSUMER = "consumer-secret-7f3a"
EMPLOYEE = "employee-secret-91bc"
TOKENS = {"consumer_token": CONSUMER, "employee_token": EMPLOYEE}
END = date(2025, 6, 30)


@dataclass
class Exchange:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_body: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def basic_user(self) -> str | None:
        scheme, _, encoded = self.headers.get("authorization", "").partition(" ")
        return base64.b64decode(encoded).decode().partition(":")[0] if scheme == "Basic" else None


class Recorder:
    """ASGI middleware keeping every request and answer that passes through it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        exchange = Exchange(scope["method"], scope["path"], parse_qsl(scope["query_string"].decode()),
                            {k.decode(): v.decode() for k, v in scope["headers"]})
        self.exchanges.append(exchange)

        async def receive_recorded() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                exchange.request_body += message.get("body", b"")
            return message

        async def record(message: dict) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                exchange.body += message.get("body", b"")
            await send(message)

        await self.app(scope, receive_recorded, record)

    def to(self, path: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.path == "/v2" + path]


class SpecChecker:
    """Checks exchanges against the Tripletex OpenAPI 3.0 spec, components resolved."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.registry = Registry().with_resource("urn:tripletex", Resource.from_contents(
            spec, default_specification=DRAFT7))
        self.templates = [(p, p.split("/")) for p in spec["paths"] if "{" in p]

    def operation(self, method: str, path: str) -> dict:
        assert path.startswith("/v2/"), path
        path = path[3:]
        parts = path.split("/")
        item = self.spec["paths"].get(path) or next(
            (self.spec["paths"][p] for p, segments in self.templates if len(segments) == len(parts)
             and all(s == x or s.startswith("{") for s, x in zip(segments, parts, strict=True))), None)
        assert item is not None, f"{path} is not a path of the spec"
        assert method.lower() in item, f"{method} {path} is not an operation of the spec"
        return item[method.lower()]

    def validate(self, value: Any, ref: str) -> None:
        validator = jsonschema.Draft7Validator({"$ref": f"urn:tripletex{ref}"}, registry=self.registry)
        validator.validate(value)

    def check(self, exchange: Exchange) -> None:
        op = self.operation(exchange.method, exchange.path)
        declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        for name, value in exchange.query:
            assert name in declared, f"{exchange.method} {exchange.path}: parameter {name} is not in the spec"
            schema = declared[name].get("schema", {})
            if schema.get("type") == "integer":
                int(value)
            if "enum" in schema:
                assert value in schema["enum"]
        for name, param in declared.items():
            if param.get("required"):
                assert name in exchange.params, f"{exchange.path}: required parameter {name} missing"
        assert "x-tlx-request-id" in exchange.response_headers or FAULT_HEADER in exchange.response_headers
        if exchange.response_headers.get(FAULT_HEADER) in ("malformed", "drop"):
            return  # broken on purpose
        body = orjson.loads(exchange.body)
        if exchange.status >= 400:
            self.validate(body, "#/components/schemas/ApiError")
        else:
            schema = op["responses"]["default"]["content"]["application/json"]["schema"]
            self.validate(body, schema["$ref"].removeprefix("urn:tripletex"))


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    assert SPEC_PATH.exists(), f"the Tripletex OpenAPI spec is expected beside the clone at {SPEC_PATH}"
    return SpecChecker(orjson.loads(SPEC_PATH.read_bytes()))


@pytest.fixture(scope="session")
def books() -> SyntheticBooks:
    """Two companies with about 2 500 postings each over 2023-01-01 .. 2025-06-30."""
    return SyntheticBooks(company_ids=("1001", "1002"), postings=3000, years=3, end=END)


@dataclass
class Served:
    """A sandbox app served on loopback behind a :class:`Recorder`; ERP test modules add ``connector()``."""

    url: str
    app: Any
    recorder: Recorder

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    def to(self, path: str) -> list[Exchange]:
        return [e for e in self.recorder.exchanges if e.path == path]


S = TypeVar("S", bound=Served)


@contextmanager
def served(kind: type[S], app: Any, **fields: Any) -> Iterator[S]:
    """Serve ``app`` behind a recorder for the duration of the block, as a ``kind``."""
    recorder = Recorder(app)
    with running(recorder) as url:
        yield kind(url, app, recorder, **fields)


def flat(batches: Iterable[list]) -> list[tuple]:
    return [row for batch in batches for row in batch]


@dataclass
class Sandbox(Served):
    """The Tripletex sandbox."""

    def connector(self, **options: Any) -> TripletexConnector:
        kwargs = {k: options.pop(k) for k in ("sleep", "today", "credential_env", "credentials") if k in options}
        credentials = kwargs.pop("credentials", TOKENS)
        return TripletexConnector("tx-test", {"base_url": self.url + "/v2", **{k: str(v) for k, v in options.items()}},
                                  credentials, **kwargs)


class FakeClock:
    """Time that moves only when the client sleeps, shared by the sandbox's rate budget and the client."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(books: SyntheticBooks) -> Callable[..., Any]:
    """Factory: ``with sandbox(**tripletex_app_kwargs) as sb`` serves the Tripletex sandbox."""

    @contextmanager
    def serve(**kwargs: Any) -> Iterator[Sandbox]:
        app = tripletex_app(kwargs.pop("books", books), consumer_token=CONSUMER, employee_token=EMPLOYEE,
                            accountant=kwargs.pop("accountant", True), **kwargs)
        with served(Sandbox, app) as sandbox:
            yield sandbox

    return serve
