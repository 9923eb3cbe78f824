"""The Tripletex connector against the Tripletex sandbox, over real HTTP on loopback."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import httpx
import orjson
import pytest

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, MalformedResponse, Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.tripletex.client import TripletexConnector, split_by_year
from osr_pipelines.connectors.tripletex.mapping import decode_postings, map_postings
from osr_sandbox.tripletex import is_inactive
from tests.connectors.conftest import CONSUMER, EMPLOYEE, TOKENS, flat

FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
DIMENSIONS = ("accounts", "departments", "projects", "customers", "suppliers")



def expected(books, company: str, window: Window) -> list[tuple]:
    return flat(books.postings_in(company, window))


def expected_dimension(books, dimension: str) -> list[tuple]:
    """The books' rows in the order the connector reads them: bank and cash accounts are in no
    balance group, and inactive customers and suppliers come in a second pass."""
    rows = books.dimension(dimension)
    if dimension == "accounts":
        return [(*r[:4], None if r[1].startswith("19") else r[4]) for r in rows]
    if dimension in ("customers", "suppliers"):
        return [r for r in rows if not is_inactive(r)] + [r for r in rows if is_inactive(r)]
    return rows


def test_full_and_window_reads_stream_exactly_the_generators_rows(sandbox, books):
    windows = [FULL, Window(date(2024, 11, 15), date(2025, 2, 3)), Window(date(2024, 3, 1), date(2024, 3, 2))]
    with sandbox() as sb:
        connector = sb.connector(page_size=400)
        assert [c.erp_id for c in connector.list_companies()] == ["1001", "1002"]
        for company in ("1001", "1002"):
            for window in windows:
                assert flat(connector.stream_postings(company, window)) == expected(books, company, window)
            for dimension in DIMENSIONS:
                assert flat(connector.stream_dimension(company, dimension)) == expected_dimension(books, dimension)
        connector.close()
    # Clients act for each client company in the Basic username.
    assert {e.basic_user for e in sb.recorder.to("/ledger/posting")} == {"1001", "1002"}


def test_every_exchange_is_defined_by_the_spec(sandbox, spec_checker):
    with sandbox(faults="429=0.05,500=0.05,drop=0.03,malformed=0.03", max_result_size=900) as sb:
        connector = sb.connector(page_size=300, sleep=lambda s: None)
        connector.list_companies()
        flat(connector.stream_postings("1001", FULL))
        for dimension in DIMENSIONS:
            flat(connector.stream_dimension("1002", dimension))
        connector.close()
    statuses = {e.status for e in sb.recorder.exchanges}
    assert {200, 422, 429} <= statuses and statuses & {500, 502, 503}
    for exchange in sb.recorder.exchanges:
        spec_checker.check(exchange)


def test_own_company_token_uses_username_zero(sandbox, books):
    with sandbox(accountant=False) as sb:
        connector = sb.connector()
        companies = connector.list_companies()
        assert [(c.erp_id, c.name) for c in companies] == [(books.companies()[0].erp_id, books.companies()[0].name)]
        window = Window(date(2025, 1, 1), date(2025, 7, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    assert {e.basic_user for e in sb.recorder.to("/ledger/posting")} == {"0"}


def test_accountant_session_with_company_zero_only_lists_clients(sandbox):
    with sandbox() as sb:
        token = httpx.put(sb.url + "/v2/token/session/:create", params={
            "consumerToken": CONSUMER, "employeeToken": EMPLOYEE,
            "expirationDate": (date.today() + timedelta(days=1)).isoformat()}).json()["value"]["token"]
        auth = ("0", token)
        assert httpx.get(sb.url + "/v2/company/>withLoginAccess", auth=auth).status_code == 200
        answer = httpx.get(sb.url + "/v2/ledger/posting", auth=auth,
                           params={"dateFrom": "2025-01-01", "dateTo": "2025-02-01"})
        assert (answer.status_code, answer.json()["code"]) == (403, 9000)
        assert httpx.get(sb.url + "/v2/ledger/posting", auth=("1001", "wrong"),
                         params={"dateFrom": "2025-01-01", "dateTo": "2025-02-01"}).status_code == 401


@pytest.mark.parametrize("field", ["consumer_token", "employee_token"])
def test_a_bad_token_is_named_by_field_and_env_var_never_by_value(sandbox, field, caplog):
    caplog.set_level(logging.DEBUG)
    credentials = {**TOKENS, field: "not-the-token-4242"}
    env = {"consumer_token": "TRIPLETEX_CONSUMER_TOKEN", "employee_token": "ACME_TRIPLETEX_EMPLOYEE_TOKEN"}
    with sandbox() as sb:
        connector = sb.connector(credentials=credentials, credential_env=env)
        with pytest.raises(CredentialsRejected) as caught:
            connector.list_companies()
        connector.close()
    message = str(caught.value)
    assert caught.value.field == field
    assert message == (f"connection 'tx-test', field '{field}': Tripletex rejected the {field.replace('_', ' ')} "
                       f"(credential '{field}', env {env[field]}) when creating a session (HTTP 401)")
    for secret in (CONSUMER, EMPLOYEE, "not-the-token-4242"):
        assert secret not in message
        assert secret not in caplog.text
        assert caught.value.__cause__ is None


def test_session_is_renewed_once_after_a_401(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector(page_size=200)
        window = Window(date(2024, 1, 1), date(2025, 1, 1))
        batches = connector.stream_postings("1001", window)
        got = list(next(batches))
        sb.state.expire_sessions()
        got += flat(batches)
        connector.close()
    assert got == expected(books, "1001", window)
    assert len(sb.recorder.to("/token/session/:create")) == 2
    assert 401 in {e.status for e in sb.recorder.to("/ledger/posting")}


def test_session_is_renewed_before_it_expires(sandbox):
    today = [date.today()]
    with sandbox(today=lambda: today[0]) as sb:
        connector = sb.connector(today=lambda: today[0])
        connector.list_companies()
        today[0] += timedelta(days=1)  # the session expires tomorrow at midnight
        connector.list_companies()
        connector.close()
    creates = sb.recorder.to("/token/session/:create")
    assert len(creates) == 2 and not any(e.status == 401 for e in sb.recorder.exchanges)


def test_result_set_too_large_splits_the_window_in_halves(sandbox, books):
    with sandbox(max_result_size=250) as sb:
        connector = sb.connector(page_size=100)
        window = Window(date(2024, 1, 1), date(2025, 1, 1))
        assert flat(connector.stream_postings("1002", window)) == expected(books, "1002", window)
        connector.close()
    refused = [e for e in sb.recorder.to("/ledger/posting") if e.status == 422]
    assert refused and all(b'"code":23000' in e.body for e in refused)
    served = {(e.params["dateFrom"], e.params["dateTo"]) for e in sb.recorder.to("/ledger/posting")
              if e.status == 200}
    assert ("2024-01-01", "2024-07-01") not in served and len(served) > 2


def test_reads_are_identical_under_every_fault(sandbox, books):
    sleeps: list[float] = []
    faults = "429=0.05,500=0.05,slow=0.02,drop=0.04,malformed=0.04"
    with sandbox(faults=faults, max_result_size=1200) as sb:
        connector = sb.connector(page_size=150, sleep=sleeps.append)
        assert [c.erp_id for c in connector.list_companies()] == ["1001", "1002"]
        for company in ("1001", "1002"):
            assert flat(connector.stream_postings(company, FULL)) == expected(books, company, FULL)
            for dimension in DIMENSIONS:
                assert flat(connector.stream_dimension(company, dimension)) == expected_dimension(books, dimension)
        connector.close()
        counts = sb.app.counts
    assert all(counts[kind] > 0 for kind in ("429", "500", "slow", "drop", "malformed")), counts
    assert 2.0 in sleeps  # the injected 429s name a 2-second reset


def test_rate_budget_waits_for_the_reset_instead_of_hitting_429(sandbox, books, clock):
    with sandbox(rate_limit=5, rate_period=30, clock=clock) as sb:
        connector = sb.connector(page_size=300, sleep=clock.sleep)
        window = Window(date(2024, 1, 1), date(2025, 1, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
        assert sb.state.rate.rejected == 0
    assert clock.sleeps and all(s == 30 for s in clock.sleeps)


def test_a_429_is_slept_through_until_the_named_reset(sandbox, books, clock):
    with sandbox(rate_limit=3, rate_period=20, clock=clock) as sb:
        # Another client of the same login spends the budget; ours only learns it from the 429.
        for _ in range(3):
            httpx.get(sb.url + "/v2/ledger/posting")
        connector = sb.connector(sleep=clock.sleep, rate_reserve=0)
        window = Window(date(2025, 1, 1), date(2025, 2, 1))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    assert sb.state.rate.rejected >= 1
    assert clock.sleeps[0] == 20


def test_catalog_builds_tripletex_connectors():
    kind = connector_type("tripletex")
    assert kind.credentials == ("consumer_token", "employee_token")
    connector = kind.build("tx", {"base_url": "http://127.0.0.1:9/v2"}, TOKENS)
    assert isinstance(connector, TripletexConnector)
    connector.close()


def test_long_windows_split_by_calendar_year():
    parts = split_by_year(Window(date(2022, 6, 1), date(2024, 3, 1)))
    assert [str(p) for p in parts] == ["[2022-06-01, 2023-01-01)", "[2023-01-01, 2024-01-01)",
                                       "[2024-01-01, 2024-03-01)"]


def test_inactive_customers_and_suppliers_are_read_too(sandbox, books):
    """``/customer`` and ``/supplier`` default to ``isInactive=false``; postings still name inactive ones."""
    with sandbox() as sb:
        connector = sb.connector()
        customers = flat(connector.stream_dimension("1001", "customers"))
        suppliers = flat(connector.stream_dimension("1001", "suppliers"))
        connector.close()
    assert sorted(customers) == sorted(books.dimension("customers"))
    assert sorted(suppliers) == sorted(books.dimension("suppliers"))
    inactive = {r[0] for r in books.dimension("customers") if is_inactive(r)}
    named = {r[11] for r in flat(books.postings_in("1001", FULL))}
    assert inactive & named <= {r[0] for r in customers} and inactive & named
    assert [e.params.get("isInactive") for e in sb.recorder.to("/customer")] == ["false", "true"]


def test_paging_ends_on_a_short_page_whatever_full_result_size_says(sandbox, books):
    window = Window(date(2024, 1, 1), date(2025, 1, 1))
    total = len(expected(books, "1001", window))
    assert total % 300 and total % 1000  # the last page is short, and fullResultSize (rounded up) is not exact
    with sandbox() as sb:
        connector = sb.connector(page_size=300)
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    served = sb.recorder.to("/ledger/posting")
    assert [int(e.params["from"]) for e in served] == list(range(0, total, 300))
    assert orjson.loads(served[-1].body)["fullResultSize"] > total


def test_a_full_last_page_is_followed_by_one_empty_page(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector(page_size=5)
        assert flat(connector.stream_dimension("1001", "departments")) == books.dimension("departments")
        connector.close()
    assert [(e.params["from"], orjson.loads(e.body)["count"]) for e in sb.recorder.to("/department")] == [
        ("0", 5), ("5", 0)]


def test_a_server_that_ignores_from_fails_the_read_instead_of_looping(sandbox):
    with sandbox() as sb:
        sb.state.ignore_from = True
        connector = sb.connector(page_size=2)
        with pytest.raises(MalformedResponse) as caught:
            for pages, _ in enumerate(connector.stream_dimension("1001", "departments")):
                assert pages < 3, "paging did not stop"
        connector.close()
    assert str(caught.value).startswith("connection 'tx-test', ERP company '1001', field 'from': Tripletex GET "
                                        "/department answered the page before again for from=2")


def test_accounts_in_no_balance_group_get_no_group(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector()
        accounts = {r[1]: r[4] for r in flat(connector.stream_dimension("1001", "accounts"))}
        connector.close()
    served = orjson.loads(sb.recorder.to("/ledger/account")[0].body)["values"]
    assert {a["number"]: a["balanceGroup"] for a in served}[1920] == "Ikke i en saldogruppe."
    assert accounts["1920"] is None and accounts["1900"] is None
    assert accounts["3000"] == "30 Salgsinntekt"


def test_the_voucher_number_takes_the_voucher_year_not_the_posting_date():
    """A posting of voucher 17 of 2024 dated in January 2025 stays in voucher 17 of 2024; its period is 2025-01."""
    page = orjson.dumps({"fullResultSize": 1, "from": 0, "count": 1, "values": [{
        "id": 9, "date": "2025-01-02", "amount": 100.0, "amountCurrency": 100.0, "account": {"number": 1920},
        "voucher": {"number": 17, "year": 2024}, "currency": {"code": "NOK"}}]})
    [row] = map_postings(decode_postings(page).values)
    assert (row[1], row[2], row[3]) == ("2024000017", "2025-01-02", 202501)


def test_the_sandbox_serves_each_voucher_with_its_year(sandbox, books):
    with sandbox() as sb:
        connector = sb.connector()
        window = Window(date(2024, 12, 30), date(2025, 1, 2))
        assert flat(connector.stream_postings("1001", window)) == expected(books, "1001", window)
        connector.close()
    served = sb.recorder.to("/ledger/posting")
    assert all("voucher(number,year)" in e.params["fields"] for e in served)
    years = {(p["date"][:4], p["voucher"]["year"]) for e in served for p in orjson.loads(e.body)["values"]}
    assert years == {("2024", 2024), ("2025", 2025)}


def test_the_source_count_is_the_inexact_full_result_size_summed_over_the_years(sandbox, books):
    window = Window(date(2023, 6, 1), date(2024, 3, 1))
    with sandbox() as sb:
        connector = sb.connector(page_size=300)
        assert connector.source_count().rows is None  # nothing read yet
        rows = flat(connector.stream_postings("1001", window))
        count = connector.source_count()
        connector.close()
    per_year = [len(expected(books, "1001", part)) for part in split_by_year(window)]
    assert len(rows) == sum(per_year) and all(0 < n < 1000 for n in per_year)
    # the sandbox rounds fullResultSize up to a thousand, as the spec warns it is "not exact"
    assert count == (2000, "fullResultSize", False, 'deprecated and "not exact" in the spec; summed over 2 requests')
    assert [e.params["from"] for e in sb.recorder.to("/ledger/posting")].count("0") == 2


def test_a_base_url_without_v2_is_named_with_the_base_path_it_needs(sandbox):
    """The sandbox serves the API under /v2, as Tripletex does; without it the session creation finds nothing."""
    with sandbox() as sb:
        connector = sb.connector(base_url=sb.url)
        with pytest.raises(ConnectorError) as error:
            connector.list_companies()
        connector.close()
    assert str(error.value) == (
        "connection 'tx-test': creating a session answered HTTP 404 (no PUT /token/session/:create there); the "
        "base_url option must be the API's base URL, ending with its base path /v2 (e.g. https://tripletex.no/v2)")
    assert [(e.method, e.path, e.status) for e in sb.recorder.exchanges] == [("PUT", "/token/session/:create", 404)]
