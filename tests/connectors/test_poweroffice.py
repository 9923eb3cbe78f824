"""The PowerOffice Go connector against the PowerOffice sandbox, over real HTTP on loopback.

Every exchange is checked against the published v2 OpenAPI spec (PascalCase
DTOs with ``additionalProperties: false``, bare arrays, 204s, ProblemDetails).
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import orjson
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from starlette.responses import JSONResponse

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, MalformedResponse, Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.poweroffice.client import PowerOfficeConnector, next_page, token_url
from osr_pipelines.connectors.ratelimit import SharedRateLimiter, state_path
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.registry import RegistryError, load_registry
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_sandbox.poweroffice import SANDBOX, client_key, is_person, poweroffice_app
from osr_sandbox.server import FAULT_HEADER, running
from tests.conftest import write_registry
from tests.connectors.conftest import END, Exchange, Served, flat, served

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "poweroffice-go" / "openapi.yaml"
APP_KEY = "app-key-5d1e"
SUBSCRIPTION = "subscription-key-77aa"
ENV = {"application_key": "POG_APP_KEY", "subscription_key": "POG_SUBSCRIPTION_KEY",
       "client_key_1001": "POG_KEY_1001", "client_key_1002": "POG_KEY_1002"}
FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
DIMENSIONS = ("accounts", "departments", "projects", "customers", "suppliers")



def expected(books: SyntheticBooks, company: str, window: Window) -> list[tuple]:
    return flat(books.postings_in(company, window))


def expected_dimension(books: SyntheticBooks, dimension: str) -> list[tuple]:
    """The books' rows as PowerOffice can tell them: accounts have no group there, and persons no
    organisation number."""
    rows = books.dimension(dimension)
    if dimension == "accounts":
        return [(*r[:4], None) for r in rows]
    if dimension in ("customers", "suppliers"):
        return [(*r[:3], None) if is_person(r) else r for r in rows]
    return rows


def credentials(**overrides: str) -> dict[str, str]:
    return {"application_key": APP_KEY, "subscription_key": SUBSCRIPTION,
            "client_key_1001": client_key("1001"), "client_key_1002": client_key("1002"), **overrides}


# -- the spec ---------------------------------------------------------------------------------


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema's ``type: [t, "null"]``."""
    if isinstance(node, dict):
        out = {k: _nullable(v) for k, v in node.items()}
        if out.pop("nullable", False) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


class SpecChecker:
    """Checks exchanges against the PowerOffice Go v2 OpenAPI 3.0 spec (paths under ``/v2``)."""

    def __init__(self, spec: dict) -> None:
        self.spec = _nullable(spec)
        self.registry = Registry().with_resource("urn:poweroffice", Resource.from_contents(
            self.spec, default_specification=DRAFT7))

    def validate(self, value: Any, schema: dict) -> None:
        ref = schema.get("$ref")
        if ref is not None:
            schema = {"$ref": f"urn:poweroffice{ref}"}
        elif schema.get("type") == "array" and "$ref" in schema.get("items", {}):
            schema = {"type": "array", "items": {"$ref": f"urn:poweroffice{schema['items']['$ref']}"}}
        jsonschema.Draft7Validator(schema, registry=self.registry,
                                   format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(value)

    def query_parameters(self, op: dict) -> dict[str, dict]:
        """Declared query parameters; object parameters (``ResourceParameters``) explode into their properties."""
        declared: dict[str, dict] = {}
        for param in op.get("parameters", []):
            if param.get("in") != "query":
                continue
            ref = param.get("schema", {}).get("$ref")
            if ref:
                target = self.spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
                if target.get("type") == "object":
                    declared.update({name: {"name": name, "schema": s} for name, s in target["properties"].items()})
                    continue
            declared[param["name"]] = param
        return declared

    def check(self, exchange: Exchange) -> None:
        if exchange.path == "/OAuth/Token":
            check_token_exchange(exchange)
            return
        assert exchange.path.startswith("/v2/"), exchange.path
        item = self.spec["paths"].get(exchange.path.removeprefix("/v2"))
        assert item is not None, f"{exchange.path} is not a path of the spec"
        op = item[exchange.method.lower()]
        declared = self.query_parameters(op)
        for name, value in exchange.query:
            assert name in declared, f"{exchange.path}: parameter {name} is not in the spec"
            schema = declared[name].get("schema", {})
            if schema.get("type") == "integer":
                int(value)
            if schema.get("format") == "date":
                date.fromisoformat(value)
            if schema.get("format") == "date-time":
                assert datetime.fromisoformat(value).tzinfo is not None, value
        for name, param in declared.items():
            if param.get("required"):
                assert name in exchange.params, f"{exchange.path}: required parameter {name} missing"
        assert exchange.headers.get("ocp-apim-subscription-key")
        assert exchange.headers.get("authorization", "").startswith("Bearer ")
        if exchange.response_headers.get(FAULT_HEADER) in ("malformed", "drop"):
            return  # broken on purpose
        responses = op["responses"]
        assert str(exchange.status) in responses or exchange.status >= 500, (exchange.path, exchange.status)
        if exchange.status == 204:
            assert exchange.body == b""
        elif exchange.status >= 400:
            self.validate(orjson.loads(exchange.body), {"$ref": "#/components/schemas/ProblemDetails"})
        else:
            self.validate(orjson.loads(exchange.body),
                          responses[str(exchange.status)]["content"]["application/json"]["schema"])


def check_token_exchange(exchange: Exchange) -> None:
    """The token request as PowerOffice documents it (the endpoint is not part of the v2 spec)."""
    assert exchange.method == "POST"
    assert exchange.headers.get("ocp-apim-subscription-key")
    assert exchange.headers["authorization"].startswith("Basic ")
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    if exchange.status == 200:
        body = orjson.loads(exchange.body)
        assert set(body) == {"access_token", "token_type", "expires_in"} and body["expires_in"] == 1200


@pytest.fixture(scope="session")
def spec_checker() -> SpecChecker:
    assert SPEC_PATH.exists(), f"the PowerOffice Go spec is expected beside the clone at {SPEC_PATH}"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # Dates in examples would become date objects; they are not validated, so keep them as the YAML has them.
    with SPEC_PATH.open("rb") as f:
        return SpecChecker(yaml.load(f, Loader=loader))


# -- the sandbox ------------------------------------------------------------------------------------


@dataclass
class Sandbox(Served):
    state_dir: Path

    def connector(self, creds: dict[str, str] | None = None, **options: Any) -> PowerOfficeConnector:
        kwargs = {k: options.pop(k) for k in ("sleep", "clock", "rate_clock") if k in options}
        opts = {"base_url": self.url + "/v2", "rate_state_dir": str(self.state_dir),
                **{k: str(v) for k, v in options.items()}}
        return PowerOfficeConnector("po-test", opts, creds or credentials(), credential_env=ENV, **kwargs)


@pytest.fixture
def sandbox(books: SyntheticBooks, tmp_path: Path) -> Callable[..., Any]:
    """Factory: ``with sandbox(**poweroffice_app_kwargs) as sb`` serves the PowerOffice sandbox."""

    @contextmanager
    def serve(**kwargs: Any) -> Iterator[Sandbox]:
        app = poweroffice_app(kwargs.pop("books", books), application_key=APP_KEY, subscription_key=SUBSCRIPTION,
                              **kwargs)
        with served(Sandbox, app, state_dir=tmp_path / "rates") as sandbox:
            yield sandbox

    return serve


# -- reads -------------------------------------------------------------------------------------------


def test_reads_match_the_books_and_every_exchange_fits_the_spec(sandbox, books, spec_checker):
    with sandbox(faults="429=0.06,500=0.04,slow=0.02,drop=0.03,malformed=0.03", rate_limit=100_000) as sb:
        connector = sb.connector(page_size=700, sleep=lambda s: None, rate_limit=1000)
        companies = connector.list_companies()
        assert [(c.erp_id, c.name, c.organization_number) for c in companies] == [
            (c.erp_id, c.name, c.organization_number) for c in books.companies()]
        for company in ("1001", "1002"):
            assert flat(connector.stream_postings(company, FULL)) == expected(books, company, FULL)
            for dimension in DIMENSIONS:
                assert flat(connector.stream_dimension(company, dimension)) == expected_dimension(books, dimension)
        assert flat(connector.stream_postings("1001", Window(date(2026, 1, 1), date(2026, 2, 1)))) == []
        connector.close()
        counts = sb.app.counts
    assert all(counts[kind] > 0 for kind in ("429", "500", "drop", "malformed")), counts
    statuses = {e.status for e in sb.recorder.exchanges}
    assert {200, 204, 429} <= statuses and statuses & {500, 502, 503}
    for exchange in sb.recorder.exchanges:
        spec_checker.check(exchange)
    # The history is paged by X-Pagination's nextPageLink, and each key acted for its own company.
    pages = [int(e.params["PageNumber"]) for e in sb.to("/v2/AccountTransactions") if e.status == 200]
    assert max(pages) >= 4


def test_paging_follows_the_pagination_header_to_the_last_page(sandbox, books):
    window = Window(date(2024, 1, 1), date(2025, 1, 1))
    total = len(expected(books, "1002", window))
    with sandbox() as sb:
        connector = sb.connector(page_size=250)
        assert flat(connector.stream_postings("1002", window)) == expected(books, "1002", window)
        connector.close()
    served = sb.to("/v2/AccountTransactions")
    assert [int(e.params["PageNumber"]) for e in served] == list(range(1, -(-total // 250) + 1))
    last = orjson.loads(served[-1].response_headers["x-pagination"])
    assert "nextPageLink" not in last and last["totalCount"] == total
    assert all(e.params["PageSize"] == "250" and e.status == 200 for e in served)


def test_dates_are_inclusive_on_both_ends_of_the_request(sandbox, books):
    start, end = date(2024, 3, 4), date(2024, 3, 6)
    with sandbox() as sb:
        connector = sb.connector()
        rows = flat(connector.stream_postings("1001", Window(start, end)))
        connector.close()
    [exchange] = sb.to("/v2/AccountTransactions")
    assert (exchange.params["fromDate"], exchange.params["toDate"]) == ("2024-03-04", "2024-03-05")
    days = {r[2] for r in rows}
    assert days == {"2024-03-04", "2024-03-05"}  # window.start is in, window.end is not
    assert rows == expected(books, "1001", Window(start, end))


def test_an_empty_page_is_a_204_and_ends_the_read(sandbox):
    with sandbox() as sb:
        connector = sb.connector()
        assert flat(connector.stream_postings("1001", Window(date(2031, 1, 1), date(2031, 2, 1)))) == []
        connector.close()
        # Without the header a full page means "maybe more"; the page after the last one is a 204.
        token = sb.state.issue_token("Basic " + base64.b64encode(f"{APP_KEY}:{client_key('1001')}".encode()).decode(),
                                     {"grant_type": "client_credentials"})["access_token"]
        answer = httpx.get(sb.url + "/v2/Departments", params={"PageNumber": 2, "PageSize": 5},
                           headers={"Ocp-Apim-Subscription-Key": SUBSCRIPTION, "Authorization": f"Bearer {token}"})
    assert [e.status for e in sb.to("/v2/AccountTransactions")] == [204]
    assert (answer.status_code, answer.content) == (204, b"")
    assert next_page(None, 1) == 2  # without the header only a 204 or an empty page ends the list
    assert next_page('{"nextPageLink": "https://x/v2/Departments?PageNumber=3&PageSize=5"}', 2) == 3
    assert next_page('{"totalPages": 2}', 2) is None


# -- tokens ------------------------------------------------------------------------------------------


def test_tokens_are_per_client_key_and_renewed_ahead_of_expiry(sandbox, clock):
    with sandbox(clock=clock) as sb:
        connector = sb.connector(clock=clock, sleep=clock.sleep, rate_clock=clock)
        connector.list_companies()
        assert len(sb.to("/OAuth/Token")) == 2  # one token per client key
        clock.now += 1000  # 200 s before expiry: still good
        flat(connector.stream_dimension("1001", "departments"))
        assert len(sb.to("/OAuth/Token")) == 2
        clock.now += 100  # inside the 120 s renewal margin
        flat(connector.stream_dimension("1001", "departments"))
        connector.close()
    tokens = sb.to("/OAuth/Token")
    assert len(tokens) == 3 and not any(e.status == 401 for e in sb.recorder.exchanges)
    users = {base64.b64decode(e.headers["authorization"][6:]).decode().partition(":")[2] for e in tokens}
    assert users == {client_key("1001"), client_key("1002")}


def test_a_refused_token_is_renewed_once(sandbox, books):
    window = Window(date(2024, 1, 1), date(2025, 1, 1))
    with sandbox() as sb:
        connector = sb.connector(page_size=300)
        batches = connector.stream_postings("1001", window)
        got = list(next(batches))
        sb.state.tokens.clear()  # as if 20 minutes had passed
        got += flat(batches)
        connector.close()
    assert got == expected(books, "1001", window)
    assert 401 in {e.status for e in sb.to("/v2/AccountTransactions")}


# -- limits ------------------------------------------------------------------------------------------


def test_ten_requests_per_second_are_never_exceeded(sandbox, clock):
    with sandbox(clock=clock) as sb:
        connector = sb.connector(page_size=1, clock=clock, sleep=clock.sleep, rate_clock=clock, rate_period=1.0)
        assert len(flat(connector.stream_dimension("1001", "projects"))) == 10
        assert len(flat(connector.stream_dimension("1001", "departments"))) == 5
        connector.close()
        assert sb.state.rate.rejected == 0
    requests = len(sb.recorder.exchanges)  # token, integration info, 10 + 5 pages
    assert requests == 17 and clock.now >= 0.7  # waited, instead of provoking 429s


def test_a_429_is_slept_through_for_its_retry_after(sandbox, books, clock):
    with sandbox(clock=clock, rate_limit=3) as sb:
        for _ in range(3):  # another integration of the same subscription spends the budget
            httpx.get(sb.url + "/v2/Departments", headers={"Ocp-Apim-Subscription-Key": SUBSCRIPTION})
        connector = sb.connector(clock=clock, sleep=clock.sleep, rate_clock=clock, rate_limit=100)
        assert flat(connector.stream_dimension("1001", "departments")) == books.dimension("departments")
        connector.close()
        assert sb.state.rate.rejected >= 1
    refused = [e for e in sb.recorder.exchanges if e.status == 429]
    assert refused and refused[0].response_headers["retry-after"] == "1"
    assert clock.sleeps[0] == 1.0


_WORKER = textwrap.dedent("""
    import sys, time
    from osr_pipelines.connectors.poweroffice.client import PowerOfficeConnector
    url, state, app_key, sub, key, out = sys.argv[1:]
    creds = {"application_key": app_key, "subscription_key": sub, "client_key_1001": key}
    c = PowerOfficeConnector("po-test", {"base_url": url + "/v2", "rate_state_dir": state, "page_size": "1"}, creds)
    rows = [r for b in c.stream_dimension("1001", "projects") for r in b]
    c.close()
    open(out, "w").write(str(len(rows)))
""")


def test_two_processes_share_the_limit_of_one_subscription_key(sandbox, tmp_path):
    with sandbox() as sb:
        outs = [tmp_path / f"out{i}" for i in range(2)]
        started = time.monotonic()
        workers = [subprocess.Popen([sys.executable, "-c", _WORKER, sb.url, str(sb.state_dir), APP_KEY, SUBSCRIPTION,
                                     client_key("1001"), str(out)]) for out in outs]
        assert [w.wait(60) for w in workers] == [0, 0]
        elapsed = time.monotonic() - started
        assert sb.state.rate.rejected == 0
    assert [out.read_text() for out in outs] == ["10", "10"]
    requests = len(sb.recorder.exchanges)  # 2 x (token + integration info + 10 pages)
    assert requests == 24 and elapsed >= (requests - 10) / 10


def test_the_shared_limiter_spaces_grants_across_processes(tmp_path):
    path = state_path(tmp_path, "test", "some-subscription-key")
    assert "some-subscription-key" not in path.name
    script = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from osr_pipelines.connectors.ratelimit import SharedRateLimiter
        limiter = SharedRateLimiter(Path(sys.argv[1]), limit=5, period=0.5)
        stamps = []
        for _ in range(10):
            granted = limiter.reserve()  # what before_request does, keeping the granted instant:
            time.sleep(max(0.0, granted - time.time()))  # a stamp taken after waking would measure the scheduler
            stamps.append(granted)
        print(",".join(map(str, stamps)))
    """)
    workers = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    stamps = sorted(float(s) for w in workers for s in w.communicate(timeout=60)[0].strip().split(","))
    assert len(stamps) == 20
    assert all(later - earlier >= 0.5 - 0.01 for earlier, later in zip(stamps, stamps[5:], strict=False))
    SharedRateLimiter(path, limit=5, period=0.5).reserve()  # the state file stays readable


# -- credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("wrong", "field", "names"), [
    ("subscription_key", "subscription_key", ["POG_SUBSCRIPTION_KEY"]),
    ("application_key", "client_key_1001", ["POG_KEY_1001", "POG_APP_KEY"]),
    ("client_key_1001", "client_key_1001", ["POG_KEY_1001"]),
])
def test_a_rejected_key_is_named_by_field_and_env_var_never_by_value(sandbox, caplog, wrong, field, names):
    caplog.set_level(logging.DEBUG)
    bad = "not-the-key-4242"
    with sandbox() as sb:
        connector = sb.connector(credentials(**{wrong: bad}))
        with pytest.raises(CredentialsRejected) as caught:
            connector.list_companies()
        with pytest.raises(CredentialsRejected) as streaming:
            flat(connector.stream_postings("1001", FULL))
        connector.close()
    for error in (caught.value, streaming.value):
        message = str(error)
        assert message.startswith("connection 'po-test'") and error.field == field, message
        assert all(name in message for name in names), message
        for secret in (bad, APP_KEY, SUBSCRIPTION, client_key("1001"), client_key("1002")):
            assert secret not in message and secret not in caplog.text
    assert not sb.to("/v2/AccountTransactions") or all(e.status == 401 for e in sb.to("/v2/AccountTransactions"))
    assert streaming.value.company == "1001"
    if wrong == "client_key_1001":  # the other key got a token, so the application key is known to be good
        assert "the application key is valid" in str(caught.value)


def test_the_token_url_sits_beside_v2():
    assert token_url("https://goapi.poweroffice.net/v2") == "https://goapi.poweroffice.net/OAuth/Token"
    assert token_url("https://goapi.poweroffice.net/Demo/v2/") == "https://goapi.poweroffice.net/Demo/OAuth/Token"


def test_catalog_builds_the_connector_and_needs_a_client_key():
    kind = connector_type("poweroffice-go")
    assert kind.credentials == ("application_key", "subscription_key") and kind.credential_families == ("client_key",)
    connector = kind.build("po", {"base_url": "http://127.0.0.1:9/v2"}, credentials(), ENV)
    assert isinstance(connector, PowerOfficeConnector)
    connector.close()
    with pytest.raises(Exception, match="field 'client_key': no client key"):
        kind.build("po", {}, {"application_key": "a", "subscription_key": "s"}, {})


# -- registry -----------------------------------------------------------------------------------


def _registry(tmp_path: Path, creds: dict[str, str]) -> Path:
    conn = {"name": "pog", "type": "poweroffice-go", "level": "customer", "parent": "Acme", "credentials": creds}
    return write_registry(tmp_path / "r.yaml", [conn], [])


@pytest.mark.parametrize("keys", [{"client_key": "POG_KEY"}, {"client_key_acme": "POG_KEY_ACME",
                                                               "client_key_beta": "POG_KEY_BETA"}])
def test_registry_accepts_client_key_families(tmp_path, keys):
    path = _registry(tmp_path, {"application_key": "POG_APP", "subscription_key": "POG_SUB", **keys})
    assert load_registry(path).connection("pog").credentials == {
        "application_key": "POG_APP", "subscription_key": "POG_SUB", **keys}


@pytest.mark.parametrize(("creds", "problem"), [
    ({"application_key": "A", "subscription_key": "S"},
     "connection 'pog': field 'credentials.client_key': missing (name an environment variable in 'client_key' "
     "or one or more 'client_key_<label>' fields)"),
    ({"application_key": "A", "subscription_key": "S", "client_key_": "K"},
     "connection 'pog': field 'credentials.client_key_': not a credential of type 'poweroffice-go'"),
    ({"application_key": "A", "subscription_key": "S", "client_keys": "K"},
     "connection 'pog': field 'credentials.client_keys': not a credential of type 'poweroffice-go'"),
    ({"subscription_key": "S", "client_key_acme": "K"},
     "connection 'pog': field 'credentials.application_key': missing (name an environment variable)"),
    ({"application_key": "A", "subscription_key": "S", "client_key_acme": "not an env var"},
     "connection 'pog': field 'credentials.client_key_acme': must name an environment variable"),
])
def test_registry_names_bad_client_key_fields(tmp_path, creds, problem):
    with pytest.raises(RegistryError) as err:
        load_registry(_registry(tmp_path, creds))
    assert problem in err.value.problems, err.value.problems


# -- through Dagster --------------------------------------------------------------------------------


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_one_refused_client_key_fails_only_its_company_and_writes_nothing(home, warehouse_url, pg_instance,
                                                                           monkeypatch):
    books = SyntheticBooks(company_ids=("2001", "2002"), postings=400, years=1, mutations_path=home / "books.json")
    with running(SANDBOX.app(books, None, {})) as base:
        options, creds = SANDBOX.login(base, books, {})
        creds["client_key_2002"] = "revoked-client-key-9"
        env = {field: f"PO_{field.upper()}" for field in creds}
        for field, var in env.items():
            monkeypatch.setenv(var, creds[field])
        conn = {"name": "src", "type": "poweroffice-go", "level": "customer", "parent": "Acme", "options": options,
                "credentials": env}
        write_registry(home / "registry.yaml", [conn], [("src", "2001"), ("src", "2002")])
        outcomes = run_imports(pg_instance, "full", ["src.2001", "src.2002"])
    assert [o.status for o in outcomes] == ["SUCCESS", "FAILURE"]
    error = outcomes[1].error
    assert error.startswith("connection 'src', ERP company '2002', field 'client_key_2002': PowerOffice refused the "
                            "client key 2002 (credential 'client_key_2002', env PO_CLIENT_KEY_2002)"), error
    assert not any(value in error for value in creds.values())
    wh = Warehouse(warehouse_url)
    assert wh.count_postings("src.2001") == books.count_in("2001", Window(books.start, books.end + timedelta(days=1)))
    assert wh.count_postings("src.2002") == 0


def test_a_revoked_key_of_another_company_does_not_stop_this_one(sandbox, books):
    """Key labels need not be company ids: probing goes on past a refused key."""
    creds = {"application_key": APP_KEY, "subscription_key": SUBSCRIPTION,
             "client_key_acme": "revoked-client-key-1", "client_key_beta": client_key("1002")}
    window = Window(date(2025, 1, 1), date(2025, 3, 1))
    with sandbox() as sb:
        connector = sb.connector(creds)
        assert flat(connector.stream_postings("1002", window)) == expected(books, "1002", window)
        with pytest.raises(CredentialsRejected) as refused:
            list(connector.stream_postings("1001", window))
        connector.close()
    assert refused.value.company == "1001" and refused.value.field == "client_key_acme"
    assert "revoked-client-key-1" not in str(refused.value)


def test_pagination_headers_of_other_shapes_neither_lose_nor_repeat_pages():
    assert next_page('{"NextPageLink": "https://x/v2/Accounts?PageNumber=4"}', 3) == 4
    assert next_page('{"CurrentPage": 2, "TotalPages": 3}', 2) == 3
    assert next_page('{"CurrentPage": 3, "TotalPages": 3}', 3) is None
    assert next_page('{"TotalCount": 12}', 1) == 2  # no link, no page count: ask for the next page


# -- paging without the header, persons, currencies -------------------------------------------------


def test_silently_trimmed_pages_without_a_pagination_header_are_read_to_the_204(sandbox, books):
    """A server that serves at most 100 rows a page, says nothing of it and sends no ``X-Pagination``."""
    window = Window(date(2024, 1, 1), date(2024, 4, 1))
    total = len(expected(books, "1001", window))
    with sandbox(max_page_size=100, trim_pages=True, pagination_header=False) as sb:
        connector = sb.connector(page_size=250)
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    served = sb.to("/v2/AccountTransactions")
    assert [e.status for e in served] == [200] * -(-total // 100) + [204]
    assert all("x-pagination" not in e.response_headers for e in served)


def test_a_server_that_ignores_the_page_number_fails_the_read_instead_of_looping(sandbox):
    with sandbox() as sb:
        sb.state.ignore_page_number = True
        connector = sb.connector(page_size=2)
        with pytest.raises(MalformedResponse) as caught:
            for pages, _ in enumerate(connector.stream_dimension("1001", "departments")):
                assert pages < 3, "paging did not stop"
        connector.close()
    assert str(caught.value).startswith("connection 'po-test', ERP company '1001', field 'PageNumber': PowerOffice "
                                        "GET /Departments answered the page before again for PageNumber=2")


def test_customers_and_suppliers_that_are_persons_are_named_by_first_and_last_name(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector()
        customers = flat(connector.stream_dimension("1001", "customers"))
        connector.close()
    served = orjson.loads(sb.to("/v2/Customers")[0].body)
    person = next(c for c in served if c["IsPerson"])
    assert person["Name"] is None and person["FirstName"] and person["LastName"]
    assert customers == expected_dimension(books, "customers")
    assert dict((r[0], r[2]) for r in customers)[str(person["Id"])] == f"{person['FirstName']} {person['LastName']}"


def test_a_line_without_currency_code_is_in_the_company_currency(sandbox, books):
    window = Window(date(2025, 1, 1), date(2025, 2, 1))
    with sandbox() as sb:
        connector = sb.connector()
        rows = flat(connector.stream_postings("1001", window))
        rows += flat(connector.stream_postings("1001", window))
        connector.close()
    assert rows == expected(books, "1001", window) * 2
    served = orjson.loads(sb.to("/v2/AccountTransactions")[0].body)
    assert any(t["CurrencyCode"] is None for t in served) and {r[6] for r in rows} == {"NOK", "EUR"}
    assert [e.status for e in sb.to("/v2/FinancialSettings")] == [200]  # asked once per company


def test_vouchers_entered_back_dated_since_the_last_run_are_found_by_their_created_time(sandbox, books):
    last_run = datetime(2025, 6, 30, 13, 0, tzinfo=UTC)  # after the day's vouchers were entered at noon
    back_dated = date(2025, 5, 12)  # far outside a nightly window of the last days
    year = Window(date(2025, 1, 1), END + timedelta(days=1))
    with sandbox() as sb:
        sb.state.register_late(back_dated, last_run + timedelta(minutes=30))
        connector = sb.connector()
        rows = flat(connector.stream_postings_created_since("1001", year, last_run.replace(tzinfo=None)))
        later = flat(connector.stream_postings_created_since("1001", year, last_run + timedelta(hours=1)))
        connector.close()
    assert rows == expected(books, "1001", Window(back_dated, back_dated + timedelta(days=1))) and rows
    assert later == []
    first, second = sb.to("/v2/AccountTransactions")
    assert first.params["createdDateTimeOffsetGreaterThan"] == "2025-06-30T13:00:00+00:00"
    assert (first.params["fromDate"], first.params["toDate"]) == ("2025-01-01", "2025-06-30")
    assert second.status == 204


def test_the_served_sandbox_takes_the_paging_options(books, tmp_path):
    window = Window(date(2025, 1, 1), date(2025, 3, 1))
    options = {"max_page_size": "100", "trim_pages": "true", "pagination_header": "false"}
    with served(Served, SANDBOX.app(books, None, options)) as sb:
        base, creds = SANDBOX.login(sb.url, books, {})
        connector = PowerOfficeConnector("po-test", {**base, "page_size": "500", "rate_state_dir": str(tmp_path)},
                                         creds)
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    pages = [e for e in sb.to("/v2/AccountTransactions") if e.status == 200]
    assert len(pages) > 1 and all(len(orjson.loads(e.body)) == 100 for e in pages[:-1])


def test_the_source_count_is_the_pagination_headers_total_and_zero_for_a_204(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector(page_size=400)
        rows = flat(connector.stream_postings("1001", FULL))
        assert connector.source_count() == (len(rows), "X-Pagination TotalCount", True, "")
        assert len(rows) == len(expected(books, "1001", FULL)) > 400
        assert flat(connector.stream_postings("1001", Window(date(2026, 1, 1), date(2026, 2, 1)))) == []
        assert connector.source_count().rows == 0
        connector.close()


def test_without_a_pagination_header_the_source_count_is_unknown(sandbox):
    with sandbox(pagination_header=False) as sb:
        connector = sb.connector()
        flat(connector.stream_postings("1001", FULL))
        count = connector.source_count()
        connector.close()
    assert count == (None, "X-Pagination TotalCount", False, "1 of 1 request(s) reported no X-Pagination TotalCount")


# -- error bodies -------------------------------------------------------------------------------------


def test_a_problem_details_body_as_the_spec_shows_it_names_its_title_and_detail(books, tmp_path, spec_checker):
    """The spec's own example of a 400 from ``GET /Customers`` (lowercase ``title``/``detail``)."""
    example = spec_checker.spec["paths"]["/Customers"]["get"]["responses"]["400"]["content"]["application/json"][
        "example"]
    assert set(example) == {"title", "detail"}
    app = poweroffice_app(books, application_key=APP_KEY, subscription_key=SUBSCRIPTION)

    async def spec_example_for_customers(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"] == "/v2/Customers":
            await JSONResponse(example, 400)(scope, receive, send)
        else:
            await app(scope, receive, send)

    with (served(Sandbox, spec_example_for_customers, state_dir=tmp_path / "rates") as sb,
          pytest.raises(ConnectorError) as error):
        flat(sb.connector().stream_dimension("1001", "customers"))
    assert str(error.value) == (f"connection 'po-test', ERP company '1001': GET /Customers answered HTTP 400 "
                                f"({example['title']}: {example['detail']})")


def test_the_sandbox_answers_problem_details_as_the_spec_examples_spell_them(sandbox):
    with sandbox(max_page_size=100) as sb, pytest.raises(ConnectorError) as error:
        flat(sb.connector(page_size=700).stream_dimension("1001", "customers"))
    (refused,) = [e for e in sb.to("/v2/Customers") if e.status == 400]
    assert set(orjson.loads(refused.body)) == {"type", "title", "status", "detail", "instance"}
    assert str(error.value).endswith("GET /Customers answered HTTP 400 "
                                     "(Invalid parameter: PageSize may not exceed MaxPageSize (100).)")
