"""The 24SevenOffice connector against its sandbox over real HTTP, every envelope checked against the WSDLs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from lxml import etree

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, SourceUnavailable, Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.connectors.twentyfourseven.client import TwentyFourSevenConnector
from osr_sandbox import twentyfourseven as sandbox
from tests.connectors.conftest import END, Exchange, FakeClock, flat, served

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "24sevenoffice"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SERVICE_WSDL = {"authenticate.asmx": "authService", "TransactionService.asmx": "transactionService",
                "Accountservice.asmx": "accountService", "ClientService.asmx": "clientService",
                "CompanyService.asmx": "companyService", "ProjectService.asmx": "projectService"}
CREDENTIALS = {"application_id": sandbox.DEFAULT_APPLICATION_ID, "username": sandbox.DEFAULT_USERNAME,
               "password": sandbox.DEFAULT_PASSWORD}
ENV_NAMES = {"application_id": "TFSO_APP_ID", "username": "TFSO_USER", "password": "TFSO_PASSWORD"}


@dataclass(frozen=True)
class Wsdl:
    """A service's WSDL: its schema (every ``s:schema`` of the document, built together) and SOAP actions."""

    schema: xmlschema.XMLSchema
    actions: dict[str, str]  # operation -> soapAction
    address: str


@cache
def wsdl(name: str) -> Wsdl:
    doc = etree.parse(str(SPECS / f"{name}.wsdl"))
    schema = xmlschema.XMLSchema([etree.tostring(s).decode() for s in doc.iter(f"{{{XS}}}schema")])
    binding = next(b for b in doc.iter(f"{{{WSDL}}}binding") if b.find(f"{{{WSDL_SOAP}}}binding") is not None)
    actions = {op.get("name"): op.find(f"{{{WSDL_SOAP}}}operation").get("soapAction")
               for op in binding.iter(f"{{{WSDL}}}operation")}
    address = next(doc.iter(f"{{{WSDL_SOAP}}}address")).get("location")
    return Wsdl(schema, actions, address)


def check_exchange(exchange: Exchange) -> None:
    """The request and its answer are envelopes the service's WSDL defines, to the service's address."""
    if exchange.response_headers.get("x-sandbox-fault") in ("429", "500"):
        return  # answered by the fault injector, which never reads the request
    spec = wsdl(SERVICE_WSDL[exchange.path.rsplit("/", 1)[-1]])
    domain_path = exchange.path.removeprefix(sandbox.SECOND_DOMAIN)
    assert spec.address.endswith(domain_path), (spec.address, exchange.path)
    assert ("webservices." in spec.address) == exchange.path.startswith(sandbox.SECOND_DOMAIN), exchange.path
    request = etree.fromstring(exchange.request_body)
    [call] = request.find(f"{{{ENV}}}Body")
    operation = etree.QName(call).localname
    assert exchange.headers["soapaction"].strip('"') == spec.actions[operation]
    spec.schema.validate(call)
    if exchange.response_headers.get("x-sandbox-fault"):
        return  # broken on purpose
    [answer] = etree.fromstring(exchange.body).find(f"{{{ENV}}}Body")
    if etree.QName(answer).localname == "Fault":
        assert exchange.status == 500 and answer.findtext("faultstring")
        return
    assert exchange.status == 200 and etree.QName(answer).localname == operation + "Response"
    spec.schema.validate(answer)


@dataclass
class Served:
    url: str
    app: Any
    recorder: Any

    @property
    def state(self) -> Any:
        return self.app.state

    def calls(self, operation: str) -> list[Exchange]:
        return [e for e in self.recorder.exchanges if e.headers.get("soapaction", "").endswith(f'/{operation}"')]

    def connector(self, tmp: Path, credentials: dict[str, str] | None = None, **options: Any) -> \
            TwentyFourSevenConnector:
        kwargs = {k: options.pop(k) for k in ("sleep", "rate_clock") if k in options}
        opts = {"base_url": self.url, "webservices_url": self.url + sandbox.SECOND_DOMAIN,
                "rate_state_dir": str(tmp / "rates"), **{k: str(v) for k, v in options.items()}}
        return TwentyFourSevenConnector("tfso", opts, credentials or CREDENTIALS, credential_env=ENV_NAMES,
                                        **kwargs)


@contextmanager
def serve(books: SyntheticBooks, faults: str | None = None, **options: str) -> Iterator[Served]:
    clock = options.pop("clock", None)
    app = sandbox.app(books, faults, options, **({"clock": clock} if clock else {}))
    with served(Served, app) as s:
        yield s


def rows_of(books: SyntheticBooks, erp_id: str, window: Window) -> set[tuple]:
    return {(r[0], r[1], r[2], r[4], r[5], r[8]) for r in flat(books.postings_in(erp_id, window))}


def key(rows: list[tuple]) -> set[tuple]:
    return {(r[0], r[1], r[2], r[4], r[5], r[8]) for r in rows}


def test_every_envelope_fits_the_wsdls_and_rows_are_exact(books, tmp_path: Path) -> None:
    window = Window(date(2024, 11, 5), date(2025, 2, 3))
    with serve(books) as s, closing(s.connector(tmp_path)) as connector:
        companies = connector.list_companies()
        rows = flat(connector.stream_postings("1002", window))
        dims = {d: flat(connector.stream_dimension("1001", d))
                for d in ("accounts", "departments", "projects", "customers", "suppliers")}
        for exchange in s.recorder.exchanges:
            check_exchange(exchange)
        ends = [etree.fromstring(e.request_body).findtext(".//{*}DateEnd") for e in s.calls("GetTransactions")]
        cookies = {e.headers.get("cookie") for e in s.recorder.exchanges if "Login" not in e.headers["soapaction"]}
    assert [(c.erp_id, c.organization_number) for c in companies] == [("1001", "900001001"), ("1002", "900001002")]
    assert key(rows) == rows_of(books, "1002", window)
    assert len(rows) == len(key(rows))
    assert all(end.endswith("T23:59:59") for end in ends) and ends[-1] == "2025-02-02T23:59:59"
    # One session, sent to both domains (the project service is on the second).
    assert len(cookies) == 1 and next(iter(cookies)).startswith("ASP.NET_SessionId=")
    assert len(dims["accounts"]) == 35 and dims["accounts"][0] == ("1", "1200", "Maskiner og anlegg", "balance", None)
    assert len(dims["projects"]) == 10 and len(dims["departments"]) == 5
    assert {r[0] for r in dims["customers"]} == {str(10_000 + i) for i in range(50)}
    assert {r[0] for r in dims["suppliers"]} == {str(20_000 + i) for i in range(30)}


def test_dimensions_currency_and_ids_map_to_canonical_columns(books, tmp_path: Path) -> None:
    window = Window(date(2025, 3, 1), date(2025, 4, 1))
    with serve(books) as s, closing(s.connector(tmp_path)) as connector:
        rows = {r[0]: r for r in flat(connector.stream_postings("1001", window))}
    for source in flat(books.postings_in("1001", window)):
        row = rows[source[0]]
        # department, project, customer, supplier as the books hold them; suppliers from supplier invoices
        assert row[9:13] == source[9:13], (row, source)
        assert row[6] == source[6]
        if source[6] == "EUR":  # Amount over CurrencyRate per CurrencyUnit
            assert row[7] == round(source[5] / sandbox.EUR_RATE, 2)


def test_identities_switch_only_when_the_company_changes(books, tmp_path: Path) -> None:
    window = Window(date(2025, 1, 1), date(2025, 1, 8))
    with serve(books) as s, closing(s.connector(tmp_path)) as connector:
        for erp_id in ("1001", "1001", "1002", "1001"):
            assert key(flat(connector.stream_postings(erp_id, window))) == rows_of(books, erp_id, window)
        assert connector.requests["Login"] == 1
        assert connector.requests["SetIdentityById"] == 3  # 1001, 1002, 1001
        with pytest.raises(ConnectorError, match="reaches no company with client id 9999"):
            flat(connector.stream_postings("9999", window))


def test_an_expired_session_is_renewed_once(books, tmp_path: Path) -> None:
    window = Window(date(2025, 1, 1), date(2025, 2, 1))
    with serve(books) as s, closing(s.connector(tmp_path)) as connector:
        flat(connector.stream_postings("1001", window))
        s.state.expire_sessions()
        assert key(flat(connector.stream_postings("1001", window))) == rows_of(books, "1001", window)
        assert s.state.logins == 2 and len(s.calls("HasSession")) == 1


def test_windows_split_when_an_answer_is_too_large(books, tmp_path: Path) -> None:
    window = Window(date(2024, 1, 1), date(2024, 7, 1))
    with serve(books) as s, closing(s.connector(tmp_path, window_days=366, max_window_rows=100)) as connector:
        rows = flat(connector.stream_postings("1001", window))
        parts = [etree.fromstring(e.request_body) for e in s.calls("GetTransactions")]
    assert key(rows) == rows_of(books, "1001", window) and len(rows) == len(key(rows))
    # The half year is halved until each part holds at most 100 lines; the first part asked was the whole.
    assert parts[0].findtext(".//{*}DateEnd") == "2024-06-30T23:59:59" and len(parts) >= 8


def test_windows_split_when_an_answer_is_too_slow(books, tmp_path: Path) -> None:
    window = Window(date(2024, 1, 1), date(2024, 4, 1))  # about 250 lines: 1.5 s to think, over the timeout
    with serve(books, seconds_per_1000_lines="6") as s, \
            closing(s.connector(tmp_path, window_days=366, timeout=1)) as connector:
        rows = flat(connector.stream_postings("1001", window))
        calls = len(s.calls("GetTransactions"))
    assert key(rows) == rows_of(books, "1001", window) and len(rows) == len(key(rows))
    assert calls >= 3  # the quarter timed out, then its halves (or their halves) answered


def test_a_day_too_large_to_answer_fails_naming_the_option(tmp_path: Path) -> None:
    books = SyntheticBooks(company_ids=("1001",), postings=150_000, years=1, end=END)
    with serve(books) as s, closing(s.connector(tmp_path, max_window_rows=100)) as connector, \
            pytest.raises(ConnectorError) as caught:
        flat(connector.stream_postings("1001", Window(date(2025, 1, 1), date(2025, 1, 3))))
    assert caught.value.field == "max_window_rows" and "ERP company '1001'" in str(caught.value)


def test_entered_since_finds_changed_lines_dated_before_the_window(tmp_path: Path) -> None:
    books = SyntheticBooks(company_ids=("1001",), postings=2000, years=2, end=END,
                           mutations_path=tmp_path / "books.json")
    old = date(2024, 3, 5)
    books.edit_day("1001", old)
    with serve(books) as s, closing(s.connector(tmp_path)) as connector:
        rows = flat(connector.stream_postings_created_since("1001", Window(books.start, date(2025, 6, 1)),
                                                            datetime(2024, 3, 5, 12, 30)))
        [call] = s.calls("GetTransactions")
    assert etree.fromstring(call.request_body).findtext(".//{*}DateSearchParameters") == "DateChangedUTC"
    edited = rows_of(books, "1001", Window(old, old + timedelta(days=1)))
    assert key(rows) >= edited and all("(rev 1)" in r[5] for r in edited)


def test_the_rate_budget_is_spent_without_quarantine(books, tmp_path: Path) -> None:
    clock = FakeClock()

    def sleep(seconds: float) -> None:
        clock.sleeps.append(seconds)
        clock.now += seconds

    window = Window(date(2025, 1, 1), date(2025, 1, 3))
    with serve(books, rate_limit="6", clock=clock) as s:
        connector = s.connector(tmp_path, rate_limit=6, sleep=sleep, rate_clock=clock)
        with closing(connector):
            for _ in range(4):
                assert key(flat(connector.stream_postings("1001", window))) == rows_of(books, "1001", window)
        # A second run of the same login shares the budget through the state file.
        with closing(s.connector(tmp_path, rate_limit=6, sleep=sleep, rate_clock=clock)) as second:
            flat(second.stream_postings("1002", window))
    assert s.state.limits.rejected == 0
    assert sum(clock.sleeps) >= 3600


def test_quarantine_fails_the_company_with_the_time_it_lifts(books, tmp_path: Path) -> None:
    clock = FakeClock()
    clock.now = datetime(2025, 5, 2, 10, 15).timestamp()
    with serve(books, rate_limit="3", clock=clock) as s, closing(s.connector(tmp_path)) as connector, \
            pytest.raises(SourceUnavailable) as caught:
        flat(connector.stream_postings("1001", Window(date(2025, 1, 1), date(2025, 1, 3))))
    message = str(caught.value)
    assert message.startswith("connection 'tfso', ERP company '1001'"), message
    lifts = datetime.fromtimestamp(clock.now + 3600, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f"the quarantine ends at {lifts}" in message and "7,200" in message


def test_faults_and_rejected_logins_are_named(books, tmp_path: Path) -> None:
    with serve(books, fault_operation="GetAccountList") as s, closing(s.connector(tmp_path)) as connector, \
            pytest.raises(ConnectorError) as caught:
        flat(connector.stream_dimension("1002", "accounts"))
    message = str(caught.value)
    assert message.startswith("connection 'tfso', ERP company '1002': 24SevenOffice GetAccountList"), message
    assert "SOAP fault (soap:Server)" in message and "injected failure" in message
    wrong = {**CREDENTIALS, "password": "not-the-password-81f"}
    with serve(books) as s, closing(s.connector(tmp_path, credentials=wrong)) as connector, \
            pytest.raises(CredentialsRejected) as refused:
        connector.list_companies()
    text = str(refused.value)
    assert all(var in text for var in ENV_NAMES.values()) and "not-the-password-81f" not in text
    assert CREDENTIALS["application_id"] not in text


def test_injected_faults_change_nothing(books, tmp_path: Path) -> None:
    window = Window(date(2024, 6, 1), date(2025, 1, 1))
    faults = "429=0.05,500=0.08,drop=0.05,malformed=0.05"
    with serve(books, faults) as s, closing(s.connector(tmp_path, sleep=lambda _: None)) as connector:
        rows = flat(connector.stream_postings("1001", window))
        for exchange in s.recorder.exchanges:
            check_exchange(exchange)
    assert key(rows) == rows_of(books, "1001", window) and len(rows) == len(key(rows))
    assert sum(s.app.counts.values()) > 0
