"""The Visma.net connector against the Visma.net sandbox, over real HTTP on loopback.

Exchanges are checked against the published 2017 Swagger 2.0 spec
(``definitions``), with the changes documented since: the base URL drops
``/API/controller/api`` for the data endpoints, list endpoints take
``pageNumber``/``pageSize`` and carry ``metadata{totalCount,maxPageSize}`` on
each item, company contexts are listed at ``/API/resources/v1/context`` (the
2017 spec's ``/security/api/v1/token/usercontexts``), and a Visma Connect
token names its company, so no request carries ``ipp-company-id``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import jsonschema
import orjson
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, MalformedResponse, Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.vismanet.client import VismaNetConnector
from osr_pipelines.connectors.vismanet.periods import Period, period_range
from osr_sandbox.server import FAULT_HEADER
from osr_sandbox.vismanet import SCOPE, vismanet_app
from tests.connectors.conftest import Exchange, Served, flat, served

SPEC_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "visma-net" / "swagger-2017.json"
CLIENT_ID, CLIENT_SECRET = "vn-client-4471", "vn-secret-8e1f0c"
CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
ENV = {"client_id": "VN_CLIENT_ID", "client_secret": "VN_CLIENT_SECRET"}
TENANTS = {"tenant-company-1001": "1001", "tenant-company-1002": "1002"}
TENANT, OTHER_TENANT = TENANTS
CUSTOMER_TENANT = "tenant-customer-9"
FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
DIMENSIONS = ("accounts", "departments", "projects", "customers", "suppliers")
#: Paths of the notes' current API -> the 2017 spec's paths.
RENAMED = {"/API/resources/v1/context": "/security/api/v1/token/usercontexts"}
#: Query parameters added since 2017 (notes 1.5: mandatory paging on every list endpoint).
ADDED_PARAMS = {"pageNumber", "pageSize"}
#: Parameters the notes call mandatory although the 2017 spec marks them optional.
MANDATORY = {"/v1/GeneralLedgerTransactions": {"ledger", "fromPeriod", "toPeriod", "pageNumber", "pageSize"}}


class SwaggerChecker:
    """Checks exchanges against the Visma.net Swagger 2.0 spec, ``definitions`` resolved."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.registry = Registry().with_resource("urn:visma", Resource.from_contents(
            spec, default_specification=DRAFT4))

    def operation(self, method: str, path: str) -> dict:
        spec_path = RENAMED.get(path) or "/controller/api" + path
        item = self.spec["paths"].get(spec_path)
        assert item is not None, f"{path} ({spec_path}) is not a path of the spec"
        assert method.lower() in item, f"{method} {path} is not an operation of the spec"
        return item[method.lower()]

    def check(self, exchange: Exchange) -> None:
        op = self.operation(exchange.method, exchange.path)
        declared = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        for name, value in exchange.query:
            assert name in declared or name in ADDED_PARAMS, f"{exchange.path}: parameter {name} is not in the spec"
            if name in ADDED_PARAMS or declared[name].get("type") == "integer":
                int(value)
        for name in MANDATORY.get(exchange.path, ()):
            assert name in exchange.params, f"{exchange.path}: mandatory parameter {name} missing"
        assert "ipp-company-id" not in exchange.headers, f"{exchange.path}: the token names the company"
        assert exchange.headers.get("authorization", "").startswith("Bearer ")
        if exchange.response_headers.get(FAULT_HEADER) in ("malformed", "drop"):
            return  # broken on purpose
        body = orjson.loads(exchange.body)
        if exchange.status >= 400:
            assert set(body) >= {"ExceptionType", "ExceptionMessage"}, body
            return
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(exchange.response_headers)
        schema = op["responses"]["200"]["schema"]
        items = schema["items"]["$ref"]
        jsonschema.Draft4Validator({"type": "array", "items": {"$ref": "urn:visma" + items}},
                                   registry=self.registry).validate(body)
        if "pageSize" in exchange.params:
            for item in body:
                meta = item["metadata"]
                assert isinstance(meta["totalCount"], int) and isinstance(meta["maxPageSize"], int)


@pytest.fixture(scope="session")
def swagger() -> SwaggerChecker:
    assert SPEC_PATH.exists(), f"the Visma.net Swagger spec is expected beside the clone at {SPEC_PATH}"
    return SwaggerChecker(orjson.loads(SPEC_PATH.read_bytes()))


@dataclass
class Sandbox(Served):
    def connector(self, **options: Any) -> VismaNetConnector:
        kwargs = {k: options.pop(k) for k in ("sleep", "clock", "credential_env", "credentials") if k in options}
        credentials = kwargs.pop("credentials", CREDENTIALS)
        opts = {"base_url": self.url, "token_url": self.url + "/connect/token", "tenant_id": ",".join(TENANTS),
                **{k: str(v) for k, v in options.items()}}
        return VismaNetConnector("vn-test", opts, credentials, **kwargs)


@pytest.fixture
def sandbox(books) -> Callable[..., Any]:
    """Factory: ``with sandbox(**vismanet_app_kwargs) as sb`` serves the Visma.net sandbox, recorded."""

    @contextmanager
    def serve(**kwargs: Any) -> Iterator[Sandbox]:
        app = vismanet_app(books, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, tenants=TENANTS,
                           customer_tenant_id=CUSTOMER_TENANT, **kwargs)
        with served(Sandbox, app) as sandbox:
            yield sandbox

    return serve



def token_tenant(exchange: Exchange) -> str:
    return dict(parse_qsl(exchange.request_body.decode()))["tenant_id"]


def expected(books, company: str, window: Window) -> list[tuple]:
    """The books' rows as GL lines carry them: no customer, supplier or project; branch 1 as free dimension 1."""
    return [(*r[:10], None, None, None, "1", None, None, r[16]) for r in flat(books.postings_in(company, window))]


def test_reads_stream_exactly_the_books_rows(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector(page_size=400)
        assert [(c.erp_id, c.name) for c in connector.list_companies()] == [
            (c.erp_id, c.name) for c in books.companies()]
        for company in ("1001", "1002"):
            assert flat(connector.stream_postings(company, FULL)) == expected(books, company, FULL)
        for dimension in DIMENSIONS:
            assert [r[:3] for r in flat(connector.stream_dimension("1001", dimension))] == [
                r[:3] for r in books.dimension(dimension)]
        connector.close()
    assert [e.path for e in sb.recorder.exchanges if "context" in e.path] == ["/API/resources/v1/context"] * 2


def test_both_edges_of_the_window(sandbox, books):
    """``[start, end)``: the first day is in, the end day is out, across a month and a year boundary."""
    windows = [Window(date(2024, 3, 1), date(2024, 4, 1)), Window(date(2024, 12, 31), date(2025, 1, 2)),
               Window(date(2024, 2, 29), date(2024, 3, 1))]
    with sandbox() as sb:
        connector = sb.connector(page_size=250)
        for window in windows:
            rows = flat(connector.stream_postings("1001", window))
            assert rows == expected(books, "1001", window)
            days = {r[2] for r in rows}
            assert min(days) == window.start.isoformat()
            assert max(days) == (window.end - timedelta(days=1)).isoformat()
        connector.close()
    first = sb.to("/v1/GeneralLedgerTransactions")[0].params
    # The mandatory periods are the company's own, one period either side of the window's (lines may be
    # posted to a neighbouring period); the dates make the exact, inclusive cut.
    assert (first["fromPeriod"], first["toPeriod"], first["fromDate"], first["toDate"]) == (
        "202402", "202404", "2024-03-01", "2024-03-31")


def test_every_exchange_is_defined_by_the_spec(sandbox, books, swagger):
    with sandbox(faults="429=0.05,500=0.05,drop=0.03,malformed=0.03", max_page_size=300) as sb:
        connector = sb.connector(page_size=1000, sleep=lambda s: None)
        connector.list_companies()
        assert flat(connector.stream_postings("1001", FULL)) == expected(books, "1001", FULL)
        for dimension in DIMENSIONS:
            flat(connector.stream_dimension("1002", dimension))
        connector.close()
    statuses = {e.status for e in sb.recorder.exchanges}
    assert {200, 429} <= statuses and statuses & {500, 502, 503}
    token_requests = sb.to("/connect/token")
    for exchange in sb.recorder.exchanges:
        if exchange not in token_requests:
            swagger.check(exchange)


def test_page_size_is_capped_by_max_page_size_from_the_first_page(sandbox, books):
    with sandbox(max_page_size=200) as sb:
        connector = sb.connector(page_size=5000)
        rows = flat(connector.stream_postings("1002", FULL))
        connector.close()
    assert rows == expected(books, "1002", FULL)
    pages = sb.to("/v1/GeneralLedgerTransactions")
    # later pages are requested concurrently: each number once, in whatever order they arrive
    assert sorted(int(p.params["pageNumber"]) for p in pages) == list(range(1, len(pages) + 1))
    assert pages[0].params["pageSize"] == "5000" and {p.params["pageSize"] for p in pages[1:]} == {"200"}
    assert len(pages) == -(-len(rows) // 200)  # totalCount ends the walk: no empty page at the end
    assert all(len(orjson.loads(p.body)) <= 200 for p in pages)


def test_a_page_cap_the_server_does_not_announce_loses_no_page(sandbox, books):
    with sandbox(max_page_size=150) as sb:
        sb.app.state.sandbox.announce_max_page_size = False
        connector = sb.connector(page_size=5000)
        rows = flat(connector.stream_postings("1002", FULL))
        connector.close()
    assert rows == expected(books, "1002", FULL)
    assert {p.params["pageSize"] for p in sb.to("/v1/GeneralLedgerTransactions")[1:]} == {"150"}


def test_paging_parameters_are_mandatory(sandbox):
    with sandbox() as sb:
        token = httpx.post(sb.url + "/connect/token", data={
            "grant_type": "client_credentials", "scope": SCOPE, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "tenant_id": TENANT}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        missing = httpx.get(sb.url + "/v1/account", headers=headers, params={"pageNumber": 1})
        assert missing.status_code == 400 and "pageSize" in missing.json()["ExceptionMessage"]
        no_period = httpx.get(sb.url + "/v1/GeneralLedgerTransactions", headers=headers,
                              params={"pageNumber": 1, "pageSize": 10, "ledger": "L", "fromPeriod": "202401"})
        assert no_period.status_code == 400 and "toPeriod" in no_period.json()["ExceptionMessage"]
        capped = httpx.get(sb.url + "/v1/customer", headers=headers, params={"pageNumber": 1, "pageSize": 5000})
        assert capped.status_code == 200 and capped.json()[0]["metadata"]["maxPageSize"] == 1000


def test_a_customer_tenant_id_is_explained(sandbox):
    with sandbox() as sb:
        connector = sb.connector(tenant_id=CUSTOMER_TENANT)
        with pytest.raises(CredentialsRejected) as caught:
            connector.list_companies()
        connector.close()
    message = str(caught.value)
    assert message.startswith("connection 'vn-test', field 'tenant_id'")
    assert "company tenant id, not the customer tenant id" in message and "option 'tenant_id'" in message
    # Visma Connect issued a token; the API refused it, and a renewed one, with 401.
    assert [e.status for e in sb.recorder.exchanges] == [200, 401, 200, 401]


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
def test_a_bad_credential_is_named_by_env_var_never_by_value(sandbox, field, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = f"wrong-{field}-value-31"
    with sandbox() as sb:
        connector = sb.connector(credentials={**CREDENTIALS, field: wrong}, credential_env=ENV)
        with pytest.raises(CredentialsRejected) as caught:
            connector.list_companies()
        connector.close()
    message = str(caught.value)
    assert message.startswith("connection 'vn-test'") and ENV[field] in message
    for secret in (wrong, CLIENT_SECRET):
        assert secret not in message and secret not in caplog.text


def test_token_is_renewed_ahead_of_expiry(sandbox, books, clock):
    with sandbox(token_seconds=300, clock=clock) as sb:
        connector = sb.connector(clock=clock, sleep=clock.sleep)
        connector.list_companies()
        clock.now += 200  # within two minutes of expiry: renewed before the next call
        window = Window(date(2025, 1, 1), date(2025, 2, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    # one token per tenant for the companies, then the first tenant's renewed
    assert [token_tenant(e) for e in sb.to("/connect/token")] == [TENANT, OTHER_TENANT, TENANT]
    assert 401 not in {e.status for e in sb.recorder.exchanges}


def test_rate_budget_waits_for_the_reset_instead_of_hitting_429(sandbox, books, clock):
    with sandbox(max_page_size=20, rate_limit=5, rate_period=60, clock=clock) as sb:
        connector = sb.connector(page_size=20, clock=clock, sleep=clock.sleep, ledger="L")
        window = Window(date(2025, 1, 1), date(2025, 4, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    assert len(sb.to("/v1/GeneralLedgerTransactions")) > 5
    assert 429 not in {e.status for e in sb.recorder.exchanges}
    assert sb.app.state.sandbox.rate.rejected == 0 and clock.sleeps and max(clock.sleeps) <= 60


def test_a_429_is_slept_through_until_the_named_reset(sandbox, books, clock):
    with sandbox(faults="429=0.2", max_page_size=100) as sb:
        connector = sb.connector(page_size=100, sleep=clock.sleep, ledger="L")
        window = Window(date(2025, 1, 1), date(2025, 3, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    limited = [e for e in sb.recorder.exchanges if e.status == 429]
    assert limited and all(e.response_headers["x-ratelimit-reset"] == "2" for e in limited)
    assert clock.sleeps and set(clock.sleeps) == {2.0}  # the budget, then the 429 itself: the named reset


def test_catalog_builds_visma_net_connectors_and_requires_the_tenant():
    ctype = connector_type("visma-net")
    assert ctype.credentials == ("client_id", "client_secret") and ctype.modes == ("import",)
    connector = ctype.build("vn", {"tenant_id": ",".join(TENANTS)}, CREDENTIALS, ENV)
    assert isinstance(connector, VismaNetConnector)
    connector.close()
    with pytest.raises(Exception, match="option 'tenant_id'"):
        ctype.build("vn", {}, CREDENTIALS, ENV)


def test_each_tenant_is_one_company_and_no_request_names_a_company(sandbox, books):
    """A Visma Connect token reaches its tenant's one company: contexts under ``/API/``, no company header."""
    with sandbox() as sb:
        connector = sb.connector()
        assert [(c.erp_id, c.name) for c in connector.list_companies()] == [
            (c.erp_id, c.name) for c in books.companies()]
        window = Window(date(2025, 1, 1), date(2025, 1, 8))
        assert flat(connector.stream_postings("1002", window)) == expected(books, "1002", window)
        connector.close()
    contexts = sb.to("/API/resources/v1/context")
    assert [orjson.loads(e.body) for e in contexts] == [
        [{"id": int(c.erp_id), "name": c.name, "type": "Company"}] for c in books.companies()]
    assert not any("ipp-company-id" in e.headers for e in sb.recorder.exchanges)
    assert [token_tenant(e) for e in sb.to("/connect/token")] == [TENANT, OTHER_TENANT]
    # the postings of 1002 went out with the token of 1002's tenant
    assert sb.state.tokens.subject(sb.to("/v1/GeneralLedgerTransactions")[0].headers["authorization"]) == OTHER_TENANT


def test_a_company_no_tenant_reaches_is_named(sandbox):
    with sandbox() as sb:
        connector = sb.connector(tenant_id=TENANT)
        with pytest.raises(ConnectorError) as caught:
            flat(connector.stream_postings("1002", Window(date(2025, 1, 1), date(2025, 1, 2))))
        connector.close()
    message = str(caught.value)
    assert message.startswith("connection 'vn-test', ERP company '1002', field 'tenant_id'")
    assert "they reach 1001" in message and "add the company's own tenant id" in message
    assert sb.to("/v1/GeneralLedgerTransactions") == []


def test_without_a_context_path_the_tenants_are_the_companies(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector(context_path="")
        assert [(c.erp_id, c.name) for c in connector.list_companies()] == [(t, t) for t in TENANTS]
        window = Window(date(2024, 6, 1), date(2024, 6, 4))
        assert flat(connector.stream_postings(OTHER_TENANT, window)) == expected(books, "1002", window)
        assert [r[:3] for r in flat(connector.stream_dimension(TENANT, "projects"))] == [
            r[:3] for r in books.dimension("projects")]
        connector.close()
    assert sb.to("/API/resources/v1/context") == []


@pytest.mark.parametrize(("window", "margin", "periods"), [
    # financial years start in May: March 2024 is period 11 of the year 2023
    (Window(date(2024, 3, 1), date(2024, 4, 1)), 0, ("202311", "202311")),
    (Window(date(2024, 3, 1), date(2024, 4, 1)), 1, ("202310", "202312")),
    # across the financial year's turn
    (Window(date(2024, 4, 28), date(2024, 5, 3)), 0, ("202312", "202401")),
    # a full import: clamped to the periods the company has, never beyond
    (FULL, 1, ("202201", "202512")),
])
def test_periods_are_the_companys_financial_periods(sandbox, books, window, margin, periods):
    with sandbox(financial_year_start=5) as sb:
        connector = sb.connector(period_margin=margin, page_size=1000)
        rows = flat(connector.stream_postings("1001", window))
        connector.close()
    assert rows == expected(books, "1001", window)  # ``period`` is the calendar month of the date
    assert {r[3] for r in rows} == {int(r[2][:4] + r[2][5:7]) for r in rows}
    known = {p["period"] for p in orjson.loads(sb.to("/v1/financialPeriod")[0].body)}
    [first, *_] = sb.to("/v1/GeneralLedgerTransactions")
    assert (first.params["fromPeriod"], first.params["toPeriod"]) == periods and set(periods) <= known
    assert len(sb.to("/v1/financialPeriod")) == 1 and "pageNumber" not in sb.to("/v1/financialPeriod")[0].params


def test_a_window_outside_every_financial_period_asks_for_no_lines(sandbox):
    with sandbox() as sb:
        connector = sb.connector()
        assert flat(connector.stream_postings("1001", Window(date(2010, 1, 1), date(2011, 1, 1)))) == []
        connector.close()
    assert sb.to("/v1/GeneralLedgerTransactions") == []


def test_period_range_holds_under_either_reading_of_end_date():
    """``endDate`` as the last day, or as the next period's first day: the window's dates are covered."""
    inclusive = [Period(date(2024, m, 1), date(2024 + m // 12, m % 12 + 1, 1) - timedelta(days=1), f"2024{m:02d}")
                 for m in range(1, 13)]
    exclusive = [Period(p.start, p.end + timedelta(days=1), p.id) for p in inclusive]
    window = Window(date(2024, 3, 1), date(2024, 4, 1))
    assert period_range(inclusive, window, 0) == ("202403", "202403")
    assert period_range(exclusive, window, 0) == ("202402", "202403")
    assert period_range(inclusive, Window(date(2023, 1, 1), date(2024, 1, 2)), 1) == ("202401", "202402")
    assert period_range(inclusive, Window(date(2025, 1, 1), date(2025, 2, 1)), 1) is None


@pytest.mark.parametrize("total_count", [True, False])
def test_a_server_repeating_a_page_ends_the_walk_with_a_clear_error(sandbox, total_count):
    with sandbox(max_page_size=100) as sb:
        sb.state.ignore_page_number = True
        sb.state.announce_total_count = total_count
        connector = sb.connector(page_size=100, ledger="L")
        pages = 0
        with pytest.raises(MalformedResponse) as caught:
            for _ in connector.stream_postings("1001", Window(date(2024, 1, 1), date(2024, 7, 1))):
                pages += 1
                assert pages < 10, "the walk did not stop on a repeated page"
        connector.close()
    assert str(caught.value).startswith("connection 'vn-test', ERP company '1001', field 'pageNumber'")
    assert "the page before again for pageNumber=2" in str(caught.value) and pages == 1


@pytest.mark.parametrize(("margin", "found"), [(1, True), (0, False)])
def test_lines_posted_to_the_period_before_their_date_are_found_by_the_margin(sandbox, books, margin, found):
    """A voucher dated 2 January and posted to December: the window of its date still holds it."""
    window = Window(date(2025, 1, 1), date(2025, 1, 6))
    with sandbox() as sb:
        sb.state.late_posting_days = 3
        connector = sb.connector(period_margin=margin)
        rows = flat(connector.stream_postings("1001", window))
        connector.close()
    late = [r for r in expected(books, "1001", window) if r[2] <= "2025-01-03"]
    assert late and all(r[3] == 202501 for r in late)  # ``period`` stays the calendar month of the date
    assert (rows == expected(books, "1001", window)) is found
    assert (set(late) <= set(rows)) is found


@pytest.mark.parametrize("announced", [True, False])
def test_the_source_count_is_the_first_lines_metadata_total_count(sandbox, books, announced):
    window = Window(date(2024, 1, 1), date(2024, 7, 1))
    with sandbox(max_page_size=100) as sb:
        sb.state.announce_total_count = announced
        connector = sb.connector(page_size=100, ledger="L")
        rows = flat(connector.stream_postings("1001", window))
        count = connector.source_count()
        assert flat(connector.stream_postings("1001", Window(date(2031, 1, 1), date(2031, 2, 1)))) == []
        empty = connector.source_count()
        connector.close()
    assert rows == expected(books, "1001", window) and len(rows) > 100
    if announced:
        assert count == (len(rows), "metadata.totalCount", True, "")
    else:
        assert count == (None, "metadata.totalCount", False, "1 of 1 request(s) reported no metadata.totalCount")
    assert empty.rows == 0  # no financial period overlaps: nothing can be dated in the window
