"""A 24SevenOffice emulator over the synthetic books: its SOAP 1.1 web services.

It answers the operations the connector uses with the envelopes of the
services' WSDLs (the tests validate them against the WSDL schemas):

* ``Login`` checks the ApplicationId, user name and password and answers a
  session id on the identity ``IdentityId`` names (the first one if none);
  a wrong one is a ``soap:Fault`` (HTTP 500, as ASP.NET web
  services send faults). Every other call needs the cookie
  ``ASP.NET_SessionId``; without a live one it faults, and ``HasSession``
  answers ``false``. Sessions expire after ``session_seconds`` (option).
* The services live on two domains; the second (webservices.24sevenoffice.com,
  the project service's) is served under the path prefix ``/webservices-domain``,
  and each service answers only on its own domain, so a client that sends the
  session to one domain only fails.
* Each books company is a client reached through an identity (``GetIdentities``);
  ``SetIdentityById`` switches the session, and company data answers for the
  session's current identity.
* ``GetTransactions`` by ``EntryDate`` matches lines whose whole day lies in
  ``DateStart``..``DateEnd``: an end at 00:00:00 leaves its own day out, as the
  documentation warns; by ``DateChangedUTC`` it matches the books' change
  times. It has no paging; the answer is streamed line by line.
* More than ``rate_limit`` requests (default 7,200) in an hour from one user
  start a quarantine: every call faults "Limit exceeded by N. Request is
  blocked. Quarantine ends at …" until the hour's end.

Line ids are GUIDs holding the books' posting id in their last digits
(``00000000-0000-0000-0000-739000000021``), so the connector's compact form of
the GUID is the books' id; Customer dimensions of purchases name the supplier.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import ACCOUNTS, DEPARTMENTS, SyntheticBooks
from osr_sandbox.server import FaultInjector, FaultStyle, FixedWindows, LiveMutations, SandboxErp

ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
WEB_NS = "http://24sevenOffice.com/webservices"
ACC_NS = "http://24sevenoffice.com/webservices/economy/accounting/"
SECOND_DOMAIN = "/webservices-domain"

#: Paths of the services on the API domain, and of the project service on the second domain.
API_PATHS = {"/authenticate/v001/authenticate.asmx": WEB_NS,
             "/Economy/Accounting/V001/TransactionService.asmx": ACC_NS,
             "/Economy/Account/V004/Accountservice.asmx": WEB_NS,
             "/Client/V001/ClientService.asmx": WEB_NS,
             "/CRM/Company/V001/CompanyService.asmx": WEB_NS}
WEBSERVICES_PATHS = {"/Project/V001/ProjectService.asmx": WEB_NS}

DEFAULT_APPLICATION_ID = "3c1a9f2e-5b7d-4e21-9a0c-24f7a1b2c3d4"
DEFAULT_USERNAME = "regnskap@example.no"
DEFAULT_PASSWORD = "sandbox-password"
EUR_RATE = 11.5
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
_PROJECTS = 10


def identity_of(erp_id: str) -> str:
    """The made-up identity GUID of a books company."""
    return f"1d000000-0000-4000-8000-{int(erp_id):012d}"


def line_guid(posting_id: str) -> str:
    return f"00000000-0000-0000-0000-{posting_id:0>12}"


def fault_envelope(text: str, code: str = "soap:Server") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ENV_NS}"><soap:Body><soap:Fault>'
            f"<faultcode>{code}</faultcode><faultstring>{escape(text)}</faultstring><detail />"
            "</soap:Fault></soap:Body></soap:Envelope>").encode()


def _open(operation: str, namespace: str) -> str:
    return (f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{ENV_NS}" '
            f'xmlns:xsi="{XSI_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
            f'<{operation}Response xmlns="{namespace}">')


def _close(operation: str) -> str:
    return f"</{operation}Response></soap:Body></soap:Envelope>"


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


FAULT_STYLE = FaultStyle(error_body=lambda status, message: fault_envelope(f"HTTP {status}: {message}"),
                         rate_limit_headers=lambda reset: [(b"retry-after", str(reset).encode())])


class SoapFaultAnswer(Exception):
    def __init__(self, text: str, code: str = "soap:Server") -> None:
        super().__init__(text)
        self.text, self.code = text, code


class _State:
    def __init__(self, books: SyntheticBooks, options: Mapping[str, str], clock: Callable[[], float]) -> None:
        self.books = books
        self.live = LiveMutations(books)
        self.application_id = options.get("application_id", DEFAULT_APPLICATION_ID)
        self.username = options.get("username", DEFAULT_USERNAME)
        self.password = options.get("password", DEFAULT_PASSWORD)
        self.session_seconds = float(options.get("session_seconds", 3600))
        self.clock = clock
        self.limits = FixedWindows(int(options.get("rate_limit", 7200)), 3600, clock)
        self.quarantine_until: float = 0.0
        self.sessions: dict[str, tuple[float, str]] = {}  # session -> (expiry, identity erp id)
        self.calls: dict[str, int] = {}
        self.changed: dict[tuple[str, str], str] = {}  # (company, day) -> when its lines changed, if not the books'
        #: An operation that always faults (tests of fault handling).
        self.fault_operation = options.get("fault_operation")
        #: Seconds GetTransactions thinks per 1,000 matching lines before it answers: large answers are slow.
        self.seconds_per_1000_lines = float(options.get("seconds_per_1000_lines", 0))
        self.logins = 0

    def touch(self, erp_id: str, day: str, when: datetime) -> None:
        """Record the lines of ``erp_id`` dated ``day`` as changed at ``when`` (UTC): a voucher entered late."""
        self.changed[(erp_id, day)] = when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")

    def expire_sessions(self) -> None:
        """End every session, as when they time out."""
        self.sessions.clear()


def app(books: SyntheticBooks, faults: str | None = None, options: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time) -> FaultInjector:
    """The 24SevenOffice sandbox over ``books``; ``.state`` holds its sessions and counters for tests."""
    state = _State(books, options or {}, clock)

    async def asgi(scope: dict, receive: Callable, send: Callable) -> None:
        request = Request(scope, receive)
        response = await _answer(state, request)
        await response(scope, receive, send)

    asgi.state = state  # type: ignore[attr-defined]
    return FaultInjector(asgi, faults, FAULT_STYLE)


async def _answer(state: _State, request: Request) -> Response:
    path = request.url.path
    if path.startswith(SECOND_DOMAIN):
        namespace = WEBSERVICES_PATHS.get(path[len(SECOND_DOMAIN):])
    else:
        namespace = API_PATHS.get(path)
    if namespace is None or request.method != "POST":
        return Response(b"Not found", status_code=404, media_type="text/plain")
    body = await request.body()
    try:
        envelope = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        call = envelope.find(f"{{{ENV_NS}}}Body")[0]
    except (etree.XMLSyntaxError, TypeError, IndexError):
        return _fault(SoapFaultAnswer("Server did not recognize the request: not a SOAP envelope", "soap:Client"))
    operation = etree.QName(call).localname
    action = request.headers.get("soapaction", "").strip('"')
    if etree.QName(call).namespace != namespace or action != f"{namespace.rstrip('/')}/{operation}":
        return _fault(SoapFaultAnswer(f"Server did not recognize the value of HTTP Header SOAPAction: {action}.",
                                      "soap:Client"))
    state.calls[operation] = state.calls.get(operation, 0) + 1
    try:
        _throttle(state)
        return _operation(state, operation, namespace, call, request.cookies.get("ASP.NET_SessionId"))
    except SoapFaultAnswer as fault:
        return _fault(fault)


def _fault(fault: SoapFaultAnswer) -> Response:
    return Response(fault_envelope(fault.text, fault.code), status_code=500, media_type="text/xml; charset=utf-8")


def _throttle(state: _State) -> None:
    now = state.clock()
    if now < state.quarantine_until:
        raise SoapFaultAnswer(f"Limit exceeded by 1. Request is blocked. Quarantine ends at {_stamp(state)}")
    grant = state.limits.take(state.username)
    if not grant.allowed:
        state.quarantine_until = now + grant.reset
        raise SoapFaultAnswer(f"Limit exceeded by 1. Request is blocked. Quarantine ends at {_stamp(state)}")


def _stamp(state: _State) -> str:
    return datetime.fromtimestamp(state.quarantine_until, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ok(operation: str, namespace: str, inner: str) -> Response:
    return Response((_open(operation, namespace) + inner + _close(operation)).encode(),
                    media_type="text/xml; charset=utf-8")


def _text(call: etree._Element, *path: str, namespace: str) -> str | None:
    element = call
    for name in path:
        element = element.find(f"{{{namespace}}}{name}") if element is not None else None
    return None if element is None else (element.text or "")


def _operation(state: _State, operation: str, namespace: str, call: etree._Element, session: str | None) -> Response:
    if operation == "Login":
        credential = ("credential",)
        given = (_text(call, *credential, "ApplicationId", namespace=namespace),
                 _text(call, *credential, "Username", namespace=namespace),
                 _text(call, *credential, "Password", namespace=namespace))
        if given != (state.application_id, state.username, state.password):
            raise SoapFaultAnswer("Server was unable to process request. ---> Invalid credentials")
        wanted = _text(call, *credential, "IdentityId", namespace=namespace)
        companies = [c for c in state.books.company_ids if wanted in (None, EMPTY_GUID, identity_of(c))]
        if not companies:
            raise SoapFaultAnswer("Provided IdentityId is blocked. Please use GetIdentitiesWithCredential to get a "
                                  "list of available Identities and reauthenticate with a valid IdentityId")
        state.logins += 1
        session_id = secrets.token_hex(12)
        state.sessions[session_id] = (state.clock() + state.session_seconds, companies[0])
        return _ok(operation, namespace, _el("LoginResult", session_id))
    live = session is not None and state.sessions.get(session, (0.0, ""))[0] > state.clock()
    if operation == "HasSession":
        return _ok(operation, namespace, _el("HasSessionResult", "true" if live else "false"))
    if not live:
        raise SoapFaultAnswer("Server was unable to process request. ---> Authentication failed: no valid session")
    assert session is not None
    expiry, company = state.sessions[session]
    if operation == "GetIdentities":
        return _ok(operation, namespace, _identities(state, company))
    if operation == "SetIdentityById":
        wanted = _text(call, "identityId", namespace=namespace)
        match = [c for c in state.books.company_ids if identity_of(c) == wanted]
        if match:
            state.sessions[session] = (expiry, match[0])
        return _ok(operation, namespace, _el("SetIdentityByIdResult", str(bool(match)).lower()))
    if operation == state.fault_operation:
        raise SoapFaultAnswer(f"Server was unable to process request. ---> injected failure of {operation}")
    state.live.version()
    handler = _HANDLERS.get(operation)
    if handler is None:
        raise SoapFaultAnswer(f"the sandbox does not serve {operation}", "soap:Client")
    return handler(state, company, call, namespace)


def _identities(state: _State, current: str) -> str:
    items = []
    for erp_id, info in zip(state.books.company_ids, state.books.companies(), strict=True):
        items.append("<Identity>" + _el("Id", identity_of(erp_id))
                     + "<User>" + _el("Id", "5e000000-0000-4000-8000-000000000001") + _el("Name", "Regnskap")
                     + "</User><Client>" + _el("Id", int(erp_id)) + _el("Name", info.name) + "</Client>"
                     + _el("IsCurrent", str(erp_id == current).lower()) + _el("IsDefault", "false")
                     + _el("IsProtected", "false") + _el("IsDisabled", "false") + "</Identity>")
    return "<GetIdentitiesResult>" + "".join(items) + "</GetIdentitiesResult>"


def _client_information(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    info = next(c for c in state.books.companies() if c.erp_id == company)
    inner = ("<GetClientInformationResult>" + _el("IsUsingFactoring", "false") + _el("Name", info.name)
             + _el("ReminderDays", 14) + _el("ReminderDays2", 14) + _el("ReminderDays3", 14) + _el("UserId", 1)
             + _el("OrganizationNumber", info.organization_number) + _el("DefaultCurrency", "NOK")
             + "</GetClientInformationResult>")
    return _ok("GetClientInformation", namespace, inner)


def _accounts(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    rows = "".join("<AccountData>" + _el("AccountId", i + 1) + _el("AccountNo", number) + _el("AccountName", name)
                   + "</AccountData>" for i, (number, name, _kind, _group) in enumerate(ACCOUNTS))
    return _ok("GetAccountList", namespace, f"<GetAccountListResult>{rows}</GetAccountListResult>")


def _departments(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    rows = "".join("<Department>" + _el("Id", i + 1) + _el("Name", name) + "</Department>"
                   for i, name in enumerate(DEPARTMENTS))
    return _ok("GetDepartmentList", namespace, f"<GetDepartmentListResult>{rows}</GetDepartmentListResult>")


def _projects(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    rows = "".join("<Project>" + _el("Id", identifier) + _el("Name", name) + _el("NameDisplay", "Plain")
                   + _el("TimeReg", "WorkType") + "</Project>"
                   for identifier, _code, name in state.books.dimension("projects"))
    return _ok("GetProjectList", namespace, f"<GetProjectListResult>{rows}</GetProjectListResult>")


def _companies(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    rows = []
    for dimension, kind in (("customers", "Business"), ("suppliers", "Supplier")):
        for identifier, _code, name, organization in state.books.dimension(dimension):
            rows.append("<Company>" + _el("Id", identifier) + _el("OrganizationNumber", organization)
                        + _el("Name", name) + _el("Type", kind) + "</Company>")
    return _ok("GetCompanies", namespace, "<GetCompaniesResult>" + "".join(rows) + "</GetCompaniesResult>")


def _when(call: etree._Element, name: str, namespace: str) -> datetime:
    value = _text(call, "searchParams", name, namespace=namespace)
    if not value:
        raise SoapFaultAnswer(f"Server was unable to process request. ---> {name} is required", "soap:Client")
    try:
        return datetime.fromisoformat(value.rstrip("Z"))
    except ValueError:
        raise SoapFaultAnswer(f"Server was unable to read the request. ---> {name}: {value}", "soap:Client") from None


def _transactions(state: _State, company: str, call: etree._Element, namespace: str) -> Response:
    by = _text(call, "searchParams", "DateSearchParameters", namespace=namespace) or "EntryDate"
    start, end = _when(call, "DateStart", namespace), _when(call, "DateEnd", namespace)
    books = state.books
    if by == "EntryDate":
        first = start.date() if start.time() == datetime.min.time() else start.date() + timedelta(days=1)
        last_day = end.date() if end.time() >= datetime.max.time().replace(microsecond=0) else \
            end.date() - timedelta(days=1)
        window = Window(first, last_day + timedelta(days=1)) if last_day >= first else None

        def rows() -> Iterator[tuple]:
            if window is not None:
                for batch in books.postings_in(company, window):
                    yield from batch
    else:
        low, high = start.isoformat(), end.isoformat()

        def rows() -> Iterator[tuple]:
            for batch in books.postings_in(company, Window(books.start, books.end + timedelta(days=1))):
                for row in batch:
                    changed = state.changed.get((company, row[2]), row[16])
                    if low <= changed <= high:
                        yield (*row[:16], changed)

    def body() -> Iterator[bytes]:
        if state.seconds_per_1000_lines:
            time.sleep(sum(1 for _ in rows()) * state.seconds_per_1000_lines / 1000)
        yield (_open("GetTransactions", namespace) + "<GetTransactionsResult>").encode()
        chunk: list[str] = []
        for row in rows():
            chunk.append(_transaction(row))
            if len(chunk) >= 500:
                yield "".join(chunk).encode()
                chunk = []
        yield ("".join(chunk) + "</GetTransactionsResult>" + _close("GetTransactions")).encode()

    return StreamingResponse(body(), media_type="text/xml; charset=utf-8")


def _transaction(row: tuple) -> str:
    (posting_id, voucher, day, period, account, amount, currency, _amount_currency, text, department, project,
     customer, supplier, *_free, changed) = row
    system_type = "InvoiceSupplier" if supplier else "InvoiceCustomer" if project or department else (
        "Payment" if account == "1920" or customer else "Miscellaneous")
    dims = [("Department", department), ("Project", project), ("Customer", customer or supplier)]
    dimensions = "".join(f"<Dimension>{_el('Type', kind)}{_el('Value', value)}</Dimension>"
                         for kind, value in dims if value)
    foreign = currency != "NOK"
    return ("<Transaction>" + _el("Date", f"{day}T00:00:00") + _el("AccountNo", account) + _el("Currency", currency)
            + _el("CurrencyRate", EUR_RATE if foreign else 1) + _el("CurrencyUnit", 1) + _el("Amount", f"{amount:.2f}")
            + _el("Period", period % 100) + _el("Comment", text or "") + _el("TransactionNo", voucher)
            + _el("Id", line_guid(posting_id)) + _el("SystemType", system_type)
            + (f"<Dimensions>{dimensions}</Dimensions>" if dimensions else "")
            + _el("DateChanged", changed) + _el("Hidden", "false") + _el("Open", "false")
            + _el("HasVatDividend", "false") + "</Transaction>")


_HANDLERS = {
    "GetClientInformation": _client_information,
    "GetAccountList": _accounts,
    "GetDepartmentList": _departments,
    "GetProjectList": _projects,
    "GetCompanies": _companies,
    "GetTransactions": _transactions,
}


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> FaultInjector:
    return app(books, faults, options)


def _login(base: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    # The books are small: a year per GetTransactions call keeps the suite's request count low.
    return ({"base_url": base, "webservices_url": base + SECOND_DOMAIN, "window_days": "366"},
            {"application_id": options.get("application_id", DEFAULT_APPLICATION_ID),
             "username": options.get("username", DEFAULT_USERNAME),
             "password": options.get("password", DEFAULT_PASSWORD)})


SANDBOX = SandboxErp(app=_app, login=_login)
