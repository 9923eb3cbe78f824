"""The Business NXT connector against its sandbox over real HTTP: tokens, paging, counts, errors and limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, Window
from osr_pipelines.connectors.businessnxt import queries
from osr_pipelines.connectors.businessnxt.client import BusinessNxtConnector
from osr_pipelines.connectors.businessnxt.slots import ConcurrencySlots
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.visma_business.model import GL_TRANSACTION, OrgUnitRoles, posting_mapper
from osr_sandbox.businessnxt import PATH, BusinessNxtSandbox, businessnxt_app, transaction
from osr_sandbox.server import running

END = date(2025, 6, 30)
ENV = {"client_id": "BNXT_CLIENT_ID", "client_secret": "BNXT_CLIENT_SECRET"}


class Clock:
    """A clock both the sandbox (token expiry) and the connector (renewal) read."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def osr_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate-limit state and concurrency slots live under the OSR home."""
    monkeypatch.setenv("OSR_HOME", str(tmp_path))


@pytest.fixture(scope="module")
def books() -> SyntheticBooks:
    return SyntheticBooks(company_ids=("3001", "3002"), postings=1500, years=2, end=END)


@contextmanager
def served(books: SyntheticBooks, **app: object) -> Iterator[tuple[str, BusinessNxtSandbox]]:
    application = businessnxt_app(books, **app)
    with running(application) as base:
        yield base, application.state.sandbox


def connector(base: str, secret: str = "sandbox-bnxt-secret", **options: str) -> BusinessNxtConnector:
    opts = {"base_url": f"{base}{PATH}", "token_url": f"{base}/connect/token", **options}
    return connector_type("business-nxt-group").build(
        "bnxt", opts, {"client_id": "sandbox-bnxt-client", "client_secret": secret}, ENV)


def everything(books: SyntheticBooks) -> Window:
    return Window(books.start, books.end + timedelta(days=1))


def rows(batches) -> list[tuple]:
    return [row for batch in batches for row in batch]


def test_postings_match_the_books_with_the_count_and_window_edges(books: SyntheticBooks) -> None:
    with served(books) as (base, sandbox):
        c = connector(base, page_size="100")
        assert [(x.erp_id, x.note) for x in c.list_companies()] == [("3001", "Visma.net customer 4200001"),
                                                                     ("3002", "Visma.net customer 4200001")]
        assert connector(base, customer="4200002").list_companies() == []
        window = Window(date(2025, 2, 1), date(2025, 3, 1))
        got = rows(c.stream_postings("3001", window))
        expected = rows(books.postings_in("3001", window))
        assert sorted(r[:16] for r in got) == sorted(e[:16] for e in expected)
        assert {r[2] for r in got} >= {"2025-02-01", "2025-02-28"} and "2025-03-01" not in {r[2] for r in got}
        count = c.source_count()
        assert (count.rows, count.field, count.exact) == (len(expected), "totalCount", True)
        # totalCount is asked on the first page only; the pages follow endCursor
        asked = [q for q in sandbox.queries if "generalLedgerTransaction(" in q]
        assert len(asked) == -(-len(expected) // 100) and sum("totalCount" in q for q in asked) == 1
        assert "edges" not in "".join(sandbox.queries)


def test_dimensions_and_org_unit_roles(books: SyntheticBooks) -> None:
    with served(books) as (base, _):
        c = connector(base)
        accounts = rows(c.stream_dimension("3001", "accounts"))
        assert ("1920", "1920", "Bankinnskudd", "balance", "19") in accounts and len(accounts) == 35
        assert rows(c.stream_dimension("3001", "departments"))[0] == ("1", "1", "Administrasjon")
        assert len(rows(c.stream_dimension("3001", "projects"))) == 10
        assert rows(c.stream_dimension("3001", "customers"))[0] == ("10000", "10000", "Kunde 1 AS", "800000000")
        assert len(rows(c.stream_dimension("3001", "suppliers"))) == 30
        # org unit 1 as project, none as department: the posting's department moves to the project column
        swapped = connector(base, department_org_unit="none", project_org_unit="1", free_org_units="2")
        assert rows(swapped.stream_dimension("3001", "departments")) == []
        first = rows(books.postings_in("3001", Window(date(2025, 1, 2), date(2025, 1, 3))))
        got = {r[0]: r for r in rows(swapped.stream_postings("3001", Window(date(2025, 1, 2), date(2025, 1, 3))))}
        for row in first:
            assert (got[row[0]][9], got[row[0]][10], got[row[0]][13]) == (None, row[9], row[10])
        with pytest.raises(ConnectorError, match="only one of department, project and free dimensions"):
            connector(base, department_org_unit="2", project_org_unit="2")
    # one declaration of the role options, with today's defaults, for Business NXT and Visma Business on premise
    names = ("department_org_unit", "project_org_unit", "free_org_units")
    specs = [tuple(connector_type(t).options[n] for n in names) for t in ("business-nxt", "visma-business")]
    assert specs[0] == specs[1] and [s.default for s in specs[0]] == ["1", "2", "none"]


def test_changed_since_reads_rows_changed_or_entered_late_by_their_timestamp(tmp_path: Path) -> None:
    """``changedTimestamp`` is the server's local time, ``yyyy-MM-dd HH:mm:ss[.nnnnnnn]``, null on rows untouched
    since before October 2024; a voucher of March 2024 entered in June 2025 carries June's."""
    edited = SyntheticBooks(company_ids=("3001",), postings=1500, years=2, end=END,
                            mutations_path=tmp_path / "books.json")
    edited.edit_day("3001", date(2025, 6, 20))  # changed at 13:00 that day
    with served(edited) as (base, sandbox):
        late = date(2024, 3, 5)
        sandbox.late.touch("3001", late, datetime(2025, 6, 20, 11, 0, 0, 250_000, tzinfo=UTC))  # 13:00 in Oslo
        c = connector(base)
        since = datetime(2025, 6, 20, 12, 30)  # UTC, sent as it is: 14:30 in Oslo would be exact
        got = rows(c.stream_postings_created_since("3001", everything(edited), since))
        days = [late, *_days(date(2025, 6, 20), END)]
        expected = [r for d in days for r in edited.day_postings("3001", d)]
        assert sorted(r[0] for r in got) == sorted(r[0] for r in expected)
        assert {r[16] for r in got if r[2] == late.isoformat()} == {"2025-06-20 13:00:00.2500000"}
        assert {r[16] for r in got if r[2] == "2025-06-20"} == {"2025-06-20 13:00:00"}
        aware = since.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Oslo"))
        assert sorted(r[0] for r in rows(c.stream_postings_created_since("3001", everything(edited), aware))) \
            == sorted(r[0] for r in got)
        # rows untouched since before 9 October 2024 have no timestamp, later ones their day's
        stamps = {r[2]: r[16] for r in rows(c.stream_postings("3001", Window(date(2024, 10, 8), date(2024, 10, 10))))}
        assert stamps == {"2024-10-08": None, "2024-10-09": "2024-10-09 12:00:00"}
        # the documented form only: ISO 8601's T is not shown by Business NXT's docs
        answer = orjson.loads(sandbox.answer({"query": queries.postings(since=True), "variables": {
            "cid": 3001, "first": 10, "from": 20240101, "to": 20250630, "since": "2025-06-20T12:30:00"}}))
        assert answer["errors"][0]["message"].startswith('"2025-06-20T12:30:00" is not a DateTime value: write '
                                                         "it yyyy-MM-dd HH:mm:ss[.nnnnnnn]")


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_balances_are_summed_by_the_sandbox(books: SyntheticBooks) -> None:
    with served(books) as (base, sandbox):
        c = connector(base)
        got = {(a, p): (d, cr) for a, p, d, cr in c.balances("3001", 202501, 202503)}
        expected: dict[tuple[str, int], list[Decimal]] = {}
        for r in rows(books.postings_in("3001", Window(books.start, date(2025, 4, 1)))):
            period = r[3] if r[3] >= 202501 else r[3] // 100 * 100
            pair = expected.setdefault((r[4], period), [Decimal(0), Decimal(0)])
            pair[0 if r[5] >= 0 else 1] += abs(Decimal(str(r[5])))
        assert got.keys() == expected.keys() and {p for _, p in got} == {202400, 202501, 202502, 202503}
        for key, (debit, credit) in expected.items():
            assert (round(got[key][0], 2), round(got[key][1], 2)) == (debit, credit), key
        assert sum("groupBy" in q for q in sandbox.queries) == 1  # one request, four aliased groupings
        with pytest.raises(ConnectorError, match="option 'group_limit'") as raised:
            connector(base, group_limit="5").balances("3001", 202501, 202503)
        assert raised.value.field == "group_limit" and raised.value.company == "3001"


def test_graphql_errors_name_connection_company_and_field(books: SyntheticBooks) -> None:
    with served(books) as (base, sandbox):
        c = connector(base)
        with pytest.raises(ConnectorError) as unknown:
            sandbox.pending.append(('Cannot query field "entryNo" on type "GeneralLedgerTransaction".', None))
            rows(c.stream_postings("3001", everything(books)))
        assert (unknown.value.connection, unknown.value.company, unknown.value.field) == ("bnxt", "3001", "entryNo")
        assert "schema rejected the query" in str(unknown.value)

        with pytest.raises(ConnectorError, match="Company 9999 is not available") as missing:
            rows(c.stream_dimension("9999", "accounts"))
        assert str(missing.value).startswith("connection 'bnxt', ERP company '9999', field 'useCompany'")

        # an error at a path names the path and its field
        sandbox.pending.append(("Invalid date value.", ["useCompany", "generalLedgerTransaction", "items", 3,
                                                        "voucherDate"]))
        with pytest.raises(ConnectorError) as at:
            rows(c.stream_postings("3001", everything(books)))
        assert at.value.field == "voucherDate" and at.value.company == "3001"
        assert str(at.value).endswith("Invalid date value. (at useCompany.generalLedgerTransaction.items[3]"
                                      ".voucherDate)")

        with pytest.raises(ConnectorError, match="not 'x1'"):
            rows(c.stream_postings("x1", everything(books)))

        # the sandbox validates against the SDL: a Relay edges selection is refused, naming the field
        token = httpx.post(f"{base}/connect/token", data={
            "grant_type": "client_credentials", "client_id": "sandbox-bnxt-client",
            "client_secret": "sandbox-bnxt-secret",
            "scope": "business-graphql-service-api:access-group-based-readonly"}).json()["access_token"]
        answer = httpx.post(f"{base}{PATH}", headers={"Authorization": f"Bearer {token}"},
                            json={"query": "{ useCompany(no: 3001) { generalLedgerAccount { edges { node } } } }"})
        assert answer.status_code == 200 and answer.json()["data"] is None
        assert "Cannot query field 'edges'" in answer.json()["errors"][0]["message"]


def test_tokens_are_renewed_ahead_of_expiry_and_after_a_401(books: SyntheticBooks) -> None:
    clock = Clock()
    with served(books, token_seconds=600, clock=clock) as (base, sandbox):
        opts = {"base_url": f"{base}{PATH}", "token_url": f"{base}/connect/token"}
        c = BusinessNxtConnector("bnxt", opts, {"client_id": "sandbox-bnxt-client",
                                                "client_secret": "sandbox-bnxt-secret"}, clock=clock)
        c.list_companies()
        issued = dict(sandbox.tokens._issued)
        clock.now += 600 - 100  # inside the renewal margin: a new token before the old one expires
        c.list_companies()
        assert len(sandbox.tokens._issued) == 2 and set(issued) < set(sandbox.tokens._issued)
        sandbox.tokens.clear()  # revoked server-side: the 401 gets one fresh token
        assert len(c.list_companies()) == 2


def test_refused_credentials_and_scope_fail_clearly(books: SyntheticBooks, monkeypatch) -> None:
    with served(books) as (base, sandbox):
        with pytest.raises(CredentialsRejected) as refused:
            connector(base, secret="not-the-secret").list_companies()
        message = str(refused.value)
        assert "BNXT_CLIENT_ID" in message and "BNXT_CLIENT_SECRET" in message and "not-the-secret" not in message
        with pytest.raises(ConnectorError, match="option 'scope'") as scope:
            connector(base, scope="business-graphql-api:access-group-based").list_companies()
        assert scope.value.field == "scope"
        # a token the API never accepts (no impersonated user): after one renewal, a clear refusal
        monkeypatch.setattr(sandbox.tokens, "subject", lambda _header: None)
        with pytest.raises(CredentialsRejected, match="registered to impersonate") as api:
            connector(base).list_companies()
        assert api.value.field == "client_id" and "BNXT_CLIENT_ID" in str(api.value)


def test_the_rate_limit_is_shared_by_connectors_of_one_client_id(books: SyntheticBooks) -> None:
    first_waits: list[float] = []
    second_waits: list[float] = []
    with served(books) as (base, _):
        opts = {"base_url": f"{base}{PATH}", "token_url": f"{base}/connect/token", "requests_per_minute": "6"}
        creds = {"client_id": "sandbox-bnxt-client", "client_secret": "sandbox-bnxt-secret"}
        # one request per 10 s; the sleeps are recorded, not slept, so the grants queue up
        BusinessNxtConnector("bnxt", opts, creds, sleep=first_waits.append).list_companies()
        BusinessNxtConnector("other-run", opts, creds, sleep=second_waits.append).list_companies()
    # the token request went at once, the query waited its 10 s
    assert len(first_waits) == 1 and 9 < first_waits[0] <= 10.01, first_waits
    # another run with the same client id queues behind the first's grants (the state file), not beside them
    assert len(second_waits) == 2 and 19 < second_waits[0] <= 20.01 and 29 < second_waits[1] <= 30.01, second_waits


def test_concurrency_slots_are_shared_and_released(tmp_path: Path) -> None:
    slept: list[float] = []

    def waiting(seconds: float) -> None:
        slept.append(seconds)
        raise TimeoutError("no free slot")

    one = ConcurrencySlots("bnxt", 2, directory=tmp_path)
    other = ConcurrencySlots("bnxt", 2, directory=tmp_path, sleep=waiting)
    with one.held("3001"), one.held("3001"):
        with pytest.raises(TimeoutError), other.held("3001"):
            pass
        with other.held("3002"):  # another company has slots of its own
            pass
    assert slept == [0.05]
    with other.held("3001"):  # released on leaving the block
        pass

    holding, released = threading.Event(), threading.Event()

    def hold() -> None:
        with one.held("3001"), one.held("3001"):
            holding.set()
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        freed: list[float] = []
        waiter = ConcurrencySlots("bnxt", 2, directory=tmp_path, sleep=lambda s: (freed.append(s), released.set()))
        with waiter.held("3001"):
            assert freed  # it waited until the holder let go
    finally:
        released.set()
        holder.join()


def test_one_mapping_for_both_namings(books: SyntheticBooks) -> None:
    """A row keyed by SQL column names (Visma Business on premise) maps as the same row keyed by API names."""
    roles = OrgUnitRoles(department=1, project=2)
    api, sql = posting_mapper("api", roles, "NOK"), posting_mapper("sql", roles, "NOK")
    renamed = {c.api: c.sql for c in GL_TRANSACTION.columns.values()}
    for row in books.day_postings("3001", date(2025, 3, 3)):
        by_api = transaction(row, "2025-03-03 12:00:00")
        mapped = api(by_api)
        assert mapped[:16] == row[:16] and mapped[16] == "2025-03-03 12:00:00"
        assert sql({renamed[k]: v for k, v in by_api.items()}) == mapped


def test_the_direct_type_is_served_by_the_same_sandbox() -> None:
    """``osr sandbox serve business-nxt`` (or ``--from-connection`` of a direct connection) serves Business NXT,
    while the shared import tests run only the import type."""
    from osr_sandbox.erps import SANDBOXES, sandbox_erp

    assert sandbox_erp("business-nxt") is sandbox_erp("business-nxt-group") is SANDBOXES["business-nxt-group"]
    assert "business-nxt" not in SANDBOXES
