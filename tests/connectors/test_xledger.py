"""The Xledger connector against the Xledger sandbox, over real HTTP on loopback.

Every query the client sends is recorded and validated with graphql-core
against the sandbox schema, whose field names are checked against the
published entity field lists in ``shared/specs/xledger`` (and, where those are
silent, against the public sources the connector docs cite).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import get_named_type, is_input_object_type, is_object_type, parse, validate

from osr_pipelines.connectors.base import (
    ConnectorError,
    CredentialsRejected,
    MalformedResponse,
    SourceUnavailable,
    Window,
)
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.xledger.client import XledgerConnector
from osr_pipelines.connectors.xledger.mapping import (
    Edge,
    Lookups,
    OutsideWindow,
    PageInfo,
    Slots,
    TransactionConnection,
    TransactionData,
    map_transactions,
)
from osr_sandbox.xledger import BURST, CONCURRENCY, GROUP, SCHEMA, partner_companies, xledger_app
from tests.connectors.conftest import Served, flat, served

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "xledger"
TOKEN = "xledger-secret-5e1d"
END = date(2025, 6, 30)
FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
DIMENSIONS = ("accounts", "departments", "projects", "customers", "suppliers")


@pytest.fixture(scope="module")
def books() -> SyntheticBooks:
    """Two companies with about 1 500 postings each over 2024-01-01 .. 2025-06-30."""
    return SyntheticBooks(company_ids=("2001", "2002"), postings=1500, years=2, end=END)


@dataclass
class Sandbox(Served):
    def connector(self, *, credentials: dict[str, str] | None = None, credential_env: dict[str, str] | None = None,
                  sleep: Callable[[float], None] = lambda s: None, **options: Any) -> XledgerConnector:
        opts = {"base_url": self.url + "/graphql", **{k: str(v) for k, v in options.items()}}
        return XledgerConnector("xl-test", opts, credentials or {"token": TOKEN}, credential_env=credential_env,
                                sleep=sleep)

    def requests(self) -> list[dict]:
        """The bodies the client sent (a fault injected before the app reads none)."""
        return [orjson.loads(e.request_body) for e in self.recorder.exchanges if e.request_body]


@pytest.fixture
def sandbox(books: SyntheticBooks) -> Callable[..., Any]:
    """Factory: ``with sandbox(**xledger_app_kwargs) as sb`` serves the Xledger sandbox behind a recorder."""

    @contextmanager
    def serve(**kwargs: Any) -> Iterator[Sandbox]:
        app = xledger_app(kwargs.pop("books", books), token=TOKEN, **kwargs)
        with served(Sandbox, app) as sandbox:
            yield sandbox

    return serve



def expected(books: SyntheticBooks, company: str, window: Window) -> list[tuple]:
    """The books' rows: every column travels through Xledger, currency and partner role included."""
    return flat(books.postings_in(company, window))


def sent(sb: Sandbox, root: str) -> list[dict]:
    """The requests whose query reads ``root``."""
    return [r for r in sb.requests() if f" {root}(" in r["query"]]


def test_reads_stream_exactly_the_books_rows_over_cursor_pages(sandbox, books):
    windows = [FULL, Window(date(2024, 11, 15), date(2025, 2, 3))]
    with sandbox() as sb, closing(sb.connector(page_size=400)) as connector:
        for company in ("2001", "2002"):
            for window in windows:
                assert flat(connector.stream_postings(company, window)) == expected(books, company, window)
    pages = [r["variables"] for r in sent(sb, "transactions")]
    assert all(v["first"] == 400 for v in pages)
    cursors = [v["after"] for v in pages if v["after"] is not None]
    assert len(cursors) >= 5 and len(set(cursors)) == len(cursors)


def test_window_edges_are_exact(sandbox, books):
    day = date(2024, 3, 1)
    with sandbox() as sb, closing(sb.connector()) as connector:
        one_day = flat(connector.stream_postings("2001", Window(day, day + timedelta(days=1))))
        year_end = flat(connector.stream_postings("2001", Window(date(2024, 12, 31), date(2025, 1, 2))))
    assert one_day and {r[2] for r in one_day} == {"2024-03-01"}
    assert one_day == expected(books, "2001", Window(day, day + timedelta(days=1)))
    assert {r[2] for r in year_end} == {"2024-12-31", "2025-01-01"}
    requests = sent(sb, "transactions")
    assert [(r["variables"]["from"], r["variables"]["to"]) for r in requests] == [
        ("2024-03-01", "2024-03-02"), ("2024-12-31", "2025-01-02")]
    assert all("filter: { ownerDbId: 2001, headerPostedDate_gte: $from, headerPostedDate_lt: $to }" in r["query"]
               for r in requests)


def test_amounts_keep_xledgers_sign_debit_positive_credit_negative(sandbox, books):
    with sandbox() as sb, closing(sb.connector()) as connector:
        rows = flat(connector.stream_postings("2001", Window(date(2024, 1, 1), date(2024, 2, 1))))
    answers = b"".join(e.body for e in sb.recorder.exchanges)
    assert b'"amount":"-' in answers  # credits travel as negative strings
    revenue = [r for r in rows if r[4] == "3000"]
    receivables = [r for r in rows if r[4] == "1500" and r[1] in {v[1] for v in revenue}]
    assert revenue and all(r[5] < 0 for r in revenue)  # revenue is a credit
    assert receivables and all(r[5] > 0 for r in receivables)  # the invoiced receivable a debit
    vouchers: dict[str, float] = {}
    for r in rows:
        vouchers[r[1]] = vouchers.get(r[1], 0.0) + r[5]
    assert all(abs(total) < 0.005 for total in vouchers.values())


def test_dimensions_and_their_references(sandbox, books):
    with sandbox() as sb, closing(sb.connector()) as connector:
        got = {d: flat(connector.stream_dimension("2002", d)) for d in DIMENSIONS}
        rows = flat(connector.stream_postings("2002", Window(date(2025, 1, 1), date(2025, 2, 1))))
    assert got["accounts"] == [(i, n, name, kind, group[:2]) for i, n, name, kind, group in books.dimension("accounts")]
    for dimension in ("departments", "projects", "customers"):
        assert got[dimension] == books.dimension(dimension)
    # A supplier that is also a customer is one company in Xledger, with one organisation number.
    partners, numbers = partner_companies(books)
    assert got["suppliers"] == [(*s[:3], numbers[partners[s[0]]]) for s in books.dimension("suppliers")]
    source = expected(books, "2002", Window(date(2025, 1, 1), date(2025, 2, 1)))
    # department = glObject1, project = glObject2; customers and suppliers resolved from companyDbId.
    assert [r[9:13] for r in rows] == [r[9:13] for r in source]
    assert any(r[11] for r in rows) and any(r[12] for r in rows) and any(r[10] for r in rows)


def test_a_partner_that_is_customer_and_supplier_fills_one_column_per_line(sandbox, books):
    window = Window(date(2024, 1, 1), date(2024, 7, 1))
    partners, _ = partner_companies(books)
    shared = {partners[s[0]] for s in books.dimension("suppliers")} & {partners[c[0]] for c in
                                                                         books.dimension("customers")}
    with sandbox() as sb, closing(sb.connector()) as connector:
        rows = flat(connector.stream_postings("2001", window))
    on_shared = [r for r in rows if partners.get(r[11] or r[12]) in shared]
    # Receivable and revenue lines are the customer's, payable and cost lines the supplier's.
    assert {r[4] for r in on_shared if r[11]} >= {"1500", "3000"} and {r[4] for r in on_shared if r[12]} >= {"2400"}
    assert all(not (r[11] and r[12]) for r in rows)
    assert [r[11:13] for r in rows] == [r[11:13] for r in expected(books, "2001", window)]


def test_currency_code_and_amount_in_currency_are_mapped(sandbox, books):
    window = Window(date(2024, 5, 1), date(2024, 6, 1))
    with sandbox() as sb, closing(sb.connector()) as connector:
        rows = flat(connector.stream_postings("2002", window))
    foreign = [r for r in rows if r[6] == "EUR"]
    assert foreign and all(r[7] != r[5] for r in foreign)
    assert {r[6] for r in rows} == {"EUR", "NOK"}
    assert [r[6:8] for r in rows] == [r[6:8] for r in expected(books, "2002", window)]
    assert all("currency { code }" in r["query"] and "invoiceAmount" in r["query"] for r in sent(sb, "transactions"))


def test_closed_accounts_and_partners_are_imported_so_old_postings_resolve(sandbox, books):
    window = Window(date(2024, 1, 1), date(2025, 1, 1))
    with sandbox() as sb, closing(sb.connector()) as connector:
        accounts = flat(connector.stream_dimension("2001", "accounts"))
        customers = flat(connector.stream_dimension("2001", "customers"))
        rows = flat(connector.stream_postings("2001", window))
    closed_customers = {c[0] for c in books.dimension("customers") if c[0].endswith("9")}
    assert "6540" in {a[1] for a in accounts}  # closed, and purchases post to it
    assert closed_customers <= {c[0] for c in customers}
    assert "6540" in {r[4] for r in rows} and closed_customers & {r[11] for r in rows}
    assert rows == expected(books, "2001", window)
    for root in ("accounts", "customers", "suppliers"):
        assert sent(sb, root) and all("objectStatus: ALL" in r["query"] for r in sent(sb, root))
    with sandbox() as sb:  # the sandbox leaves closed records out unless they are asked for
        query = "{ accounts(first: 100, ownerSet: LOWER, filter: { ownerDbId: 2001 }) { edges { node { code } } } }"
        answer = httpx.post(f"{sb.url}/graphql", headers={"Authorization": f"token {TOKEN}"}, json={"query": query})
    assert "6540" not in {e["node"]["code"] for e in answer.json()["data"]["accounts"]["edges"]}


def test_gl_object_slots_choose_departments_projects_and_free_dimensions(sandbox, books):
    window = Window(date(2025, 1, 1), date(2025, 1, 15))
    with sandbox() as sb, closing(sb.connector(department_object=3, project_object="none")) as connector:
        rows = flat(connector.stream_postings("2001", window))
    source = expected(books, "2001", window)
    # glObject1 (the books' department) and glObject2 (project) become free_dimension_1 and 2.
    assert [(r[9], r[10], r[13], r[14], r[15]) for r in rows] == [(None, None, r[9], r[10], None) for r in source]
    assert any(r[13] for r in rows) and any(r[14] for r in rows)


def test_an_entity_code_resolves_to_the_entity_and_its_subsidiaries(sandbox):
    with sandbox() as sb:
        def companies(**options: Any) -> list[str]:
            with closing(sb.connector(**options)) as connector:
                return [c.erp_id for c in connector.list_companies()]

        assert companies(entity=GROUP[1]) == ["2001", "2002"]  # a group's Eier-ID gives its subsidiaries
        assert companies(entity=GROUP[1].lower()) == ["2001", "2002"]
        assert companies(entity=str(GROUP[0])) == ["2001", "2002"]  # or its dbId
        assert companies(entity="DOMENE") == ["2001", "2002", "8100"]  # a domain: every company below it
        assert companies() == ["2001", "2002", "8100"]  # no code: the token's own entity, here the domain
        assert companies(entity="2002") == ["2002"]  # a company's code gives that company
        with closing(sb.connector(entity="NOPE")) as connector, pytest.raises(ConnectorError) as info:
            connector.list_companies()
    assert info.value.field == "entity" and "'NOPE'" in str(info.value) and "Eier-ID" in str(info.value)
    assert "KONSERN" in str(info.value) and "connection 'xl-test'" in str(info.value)
    with sandbox(group=False) as sb, closing(sb.connector(entity="2001")) as connector:
        assert [(c.erp_id, c.name) for c in connector.list_companies()] == [("2001", "Steinrøys 2001 AS")]
        assert flat(connector.stream_dimension("2001", "projects"))


def test_burst_and_concurrency_limits_are_retried_and_succeed(sandbox, books, clock):
    window = Window(date(2024, 1, 1), date(2024, 7, 1))
    with sandbox(burst_limit=2, clock=clock) as sb, closing(sb.connector(page_size=200, sleep=clock.sleep)) as c:
        sb.state.reject_next(CONCURRENCY, 2)
        assert flat(c.stream_postings("2001", window)) == expected(books, "2001", window)
    codes = [e["extensions"]["code"] for x in sb.recorder.exchanges for e in orjson.loads(x.body).get("errors") or []]
    assert codes.count(CONCURRENCY) == 2 and codes.count(BURST) >= 3
    assert all(x.status == 200 for x in sb.recorder.exchanges)  # Xledger's limits are errors in a 200
    assert clock.sleeps


def test_limits_that_never_lift_give_up_after_bounded_retries(sandbox):
    with (sandbox(concurrency_limit=0) as sb, closing(sb.connector(rate_retries=3)) as connector,
          pytest.raises(SourceUnavailable, match="CONCURRENCY_LIMIT_REACHED")):
        connector.list_companies()
    assert len(sb.recorder.exchanges) == 4


def test_insufficient_credits_fail_clearly_without_retrying(sandbox):
    with sandbox(credits=1) as sb, closing(sb.connector()) as connector:
        assert flat(connector.stream_dimension("2001", "accounts"))
        with pytest.raises(ConnectorError, match="no API credits left") as info:
            flat(connector.stream_dimension("2001", "projects"))
    assert info.value.company == "2001"
    assert len(sb.recorder.exchanges) == 2


def test_a_field_the_schema_lacks_is_named_and_not_retried(sandbox):
    with sandbox() as sb, closing(sb.connector()) as connector, pytest.raises(ConnectorError) as info:
        connector._execute("accounts", "query { accounts(first: 1) { edges { node { dbId colour } } } }",
                           None, "2001")
    assert info.value.field == "colour" and "Cannot query field" in str(info.value)
    assert len(sb.recorder.exchanges) == 1


def test_a_rejected_token_is_named_by_field_and_env_var_never_by_value(sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    token = "wrong-token-value"
    with (sandbox() as sb,
          closing(sb.connector(credentials={"token": token}, credential_env={"token": "XL_TOKEN"})) as connector,
          pytest.raises(CredentialsRejected) as info):
        connector.list_companies()
    message = str(info.value)
    assert message.startswith("connection 'xl-test', field 'token'") and "env XL_TOKEN" in message
    assert token not in message and token not in caplog.text
    assert len(sb.recorder.exchanges) == 1 and sb.recorder.exchanges[0].status == 401
    with pytest.raises(ConnectorError, match=r"API token \(credential 'token', env XL_TOKEN\) is missing"):
        sb.connector(credentials={"token": ""}, credential_env={"token": "XL_TOKEN"})


def test_every_query_sent_is_valid_against_the_sandbox_schema_even_under_faults(sandbox, books):
    faults = "429=0.05,500=0.05,slow=0.02,drop=0.03,malformed=0.03"
    with sandbox(faults=faults) as sb, closing(sb.connector(page_size=300)) as connector:
        connector.list_companies()
        assert flat(connector.stream_postings("2001", FULL)) == expected(books, "2001", FULL)
        for dimension in DIMENSIONS:
            assert flat(connector.stream_dimension("2002", dimension))
    injected = {e.response_headers.get("x-sandbox-fault") for e in sb.recorder.exchanges}
    assert {"429", "500", "malformed", "drop"} <= injected
    queries = {r["query"] for r in sb.requests()}
    assert len(queries) >= 7
    for query in queries:
        assert validate(SCHEMA, parse(query)) == [], query
    answered = 0
    for exchange in sb.recorder.exchanges:
        if exchange.status == 200 and exchange.request_body and not exchange.response_headers.get("x-sandbox-fault"):
            body = orjson.loads(exchange.body)
            if body.get("data"):
                operation = parse(orjson.loads(exchange.request_body)["query"]).definitions[0]
                assert_shape(body["data"], operation.selection_set)
                answered += 1
    assert answered >= 10


def assert_shape(value: Any, selection: Any) -> None:
    """``value`` holds exactly the response keys ``selection`` asks for, at every level."""
    if isinstance(value, list):
        for item in value:
            assert_shape(item, selection)
        return
    wanted = {(f.alias or f.name).value: f for f in selection.selections}
    assert set(value) == set(wanted), (set(value), set(wanted))
    for key, field in wanted.items():
        if field.selection_set is not None and value[key] is not None:
            assert_shape(value[key], field.selection_set)


def spec_fields() -> dict[str, set[str]]:
    return {p.name.split(".")[0]: {f["name"] for f in orjson.loads(p.read_bytes())["fields"]}
            for p in SPECS.glob("*.read.metadata.json")}


#: Schema object type -> (spec entity, prefix of its flattened field names there).
SPEC_OF_TYPE = {
    "Transaction": ("transactions", ""), "TransactionHeader": ("transactions", "header_"),
    "Account": ("accounts", ""), "AccountGroup": ("accounts", "accountGroup_"),
    "ObjectValue": ("objectValues", ""), "Project": ("projects", ""),
    "Customer": ("customers", ""), "Supplier": ("suppliers", ""), "Company": ("customers", "company_"),
    "LedgerType": ("accounts", "ledgerType_"),
}
#: Fields named by public client code rather than by a spec file, each cited in docs/connectors/xledger.md:
#: entities with their parent, a transaction's currency code, the connection shapes.
FROM_NOTES = {"Entity": {"dbId", "code", "description", "parent"}, "Currency": {"dbId", "code"},
              "PageInfo": {"hasNextPage", "hasPreviousPage"}}


def _camel(flattened: str) -> str:
    """``header_postedDate`` -> ``headerPostedDate``: how Xledger names a nested field in a filter."""
    first, *rest = flattened.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def test_sandbox_schema_names_come_from_the_published_field_lists():
    specs = spec_fields()
    every_name = {name.rsplit("_", 1)[-1] for names in specs.values() for name in names}
    every_name |= {_camel(name) for names in specs.values() for name in names}
    for name, type_ in SCHEMA.type_map.items():
        if name.startswith("__") or not (is_object_type(type_) or is_input_object_type(type_)):
            continue
        if name == "Query":
            assert set(type_.fields) <= set(specs) | {"entities"}
        elif name.endswith(("Connection", "Edge")):
            assert set(type_.fields) <= {"edges", "pageInfo", "cursor", "node"}
        elif name in FROM_NOTES:
            assert set(type_.fields) == FROM_NOTES[name]
        elif is_input_object_type(type_):  # filters: <Entity>_Filter, a field name plus an operator suffix
            assert name.endswith("_Filter"), name
            for field in type_.fields:
                assert field.split("_")[0] in every_name, (name, field)
        else:
            entity, prefix = SPEC_OF_TYPE[name]
            for field, definition in type_.fields.items():
                nested = is_object_type(get_named_type(definition.type))
                flattened = f"{prefix}{field}"
                assert (any(n.startswith(flattened + "_") for n in specs[entity]) if nested
                        else flattened in specs[entity]), (name, field)


def test_values_written_into_queries_are_checked_first(sandbox):
    with pytest.raises(ConnectorError, match="option department_kind must be the dbId") as info:
        XledgerConnector("xl-test", {"department_kind": "1 } ownerDbId: 2"}, {"token": TOKEN})
    assert info.value.field == "department_kind"
    with sandbox() as sb, closing(sb.connector()) as connector:
        with pytest.raises(ConnectorError, match="entity's dbId") as company:
            flat(connector.stream_dimension("2001, x: 1", "projects"))
        with pytest.raises(ConnectorError, match="entity's dbId"):
            flat(connector.stream_postings("KONSERN", Window(date(2024, 1, 1), date(2024, 2, 1))))
    assert company.value.company == "2001, x: 1" and sb.requests() == []


def test_catalog_builds_xledger_connectors():
    built = connector_type("xledger").build("c", {"entity": "1"}, {"token": "t"}, {"token": "XL"})
    assert isinstance(built, XledgerConnector) and built.page_size == 10_000
    built.close()
    with pytest.raises(ConnectorError, match="env XL"):
        connector_type("xledger").build("c", {}, {}, {"token": "XL"})


def test_filters_are_written_inline_and_the_sandbox_names_input_types_as_xledger_does(sandbox, books):
    with sandbox() as sb, closing(sb.connector()) as connector:
        connector.list_companies()
        flat(connector.stream_postings("2001", Window(date(2024, 1, 1), date(2024, 1, 8))))
        for dimension in DIMENSIONS:
            flat(connector.stream_dimension("2001", dimension))
        # A declared filter variable needs Xledger's type name; the old guess is unknown to it.
        guessed = ("query ($filter: TransactionFilter) { transactions(first: 1, filter: $filter) "
                   "{ edges { node { dbId } } } }")
        answer = httpx.post(f"{sb.url}/graphql", headers={"Authorization": f"token {TOKEN}"},
                            json={"query": guessed, "variables": {"filter": {}}})
    queries = [r["query"] for r in sb.requests() if "TransactionFilter" not in r["query"]]
    assert len(queries) >= 8 and all("$filter" not in q and "Filter" not in q for q in queries)
    assert all("filter: {" in q for q in queries if "entities(" not in q)
    assert "Unknown type 'TransactionFilter'" in answer.json()["errors"][0]["message"]
    assert {"Transaction_Filter", "Customer_Filter", "Account_Filter"} <= set(SCHEMA.type_map)


def test_the_posted_date_filter_is_an_option_and_a_rejected_one_names_it(sandbox, books):
    window = Window(date(2024, 2, 1), date(2024, 3, 1))
    with sandbox(posted_date_filter="postedDate") as sb:
        with closing(sb.connector()) as connector, pytest.raises(ConnectorError) as info:
            flat(connector.stream_postings("2001", window))
        assert len(sb.requests()) == 4  # accounts, customers, suppliers, then the rejected transactions query
        with closing(sb.connector(posted_date_filter="postedDate")) as connector:
            assert flat(connector.stream_postings("2001", window)) == expected(books, "2001", window)
    message = str(info.value)
    assert info.value.field == "posted_date_filter" and info.value.company == "2001"
    assert "headerPostedDate_gte" in message and "option posted_date_filter" in message
    assert message.startswith("connection 'xl-test'")
    with pytest.raises(ConnectorError, match="option posted_date_filter must be a GraphQL field name"):
        sb.connector(posted_date_filter="postedDate_gte: 1 }")


def test_a_transaction_outside_the_window_is_refused_not_loaded():
    """A posted-date filter that filters on another date would load a wrong window silently."""
    from osr_pipelines.connectors.xledger.mapping import Transaction, _Header

    node = Transaction(dbId="1", amount=10.0, accountDbId="7", header=_Header("V1", "2024-03-01"))
    page = TransactionData(TransactionConnection([Edge(node, "1")], PageInfo(False))).transactions.edges
    lookups = Lookups({"7": "3000"}, {"7": None}, {}, {})
    assert map_transactions(page, lookups, Slots(), ("2024-03-01", "2024-03-02"))[0][2] == "2024-03-01"
    with pytest.raises(OutsideWindow) as info:
        map_transactions(page, lookups, Slots(), ("2024-02-01", "2024-03-01"))
    assert info.value.day == "2024-03-01"


def test_a_repeated_cursor_ends_the_walk_with_a_clear_error(sandbox, books):
    window = Window(date(2024, 1, 1), date(2024, 3, 1))
    with sandbox() as sb, closing(sb.connector(page_size=50)) as connector:
        connector._lookups_of("2001")  # master data first, so the fault hits the transactions walk
        sb.state.ignore_after(1)
        pages = connector.stream_postings("2001", window)
        first = next(pages)
        with pytest.raises(MalformedResponse) as postings:
            next(pages)  # the repeated page raises before its rows come out
        transaction_pages = len(sent(sb, "transactions"))
        sb.state.ignore_after(1)
        with pytest.raises(MalformedResponse) as accounts:
            flat(connector.stream_dimension("2002", "customers"))
    assert transaction_pages == 2 and len(first) == 50
    for info in (postings, accounts):
        assert str(info.value).startswith("connection 'xl-test'") and "a second time" in str(info.value)
    assert postings.value.company == "2001" and accounts.value.company == "2002"


def test_xledger_reports_no_source_count_and_says_so(sandbox, books):
    window = Window(date(2024, 1, 1), date(2024, 3, 1))
    with sandbox() as sb, closing(sb.connector(page_size=100)) as connector:
        assert len(flat(connector.stream_postings("2001", window))) == len(expected(books, "2001", window))
        count = connector.source_count()
    assert count.rows is None and count.note.startswith("Xledger reports no count")
