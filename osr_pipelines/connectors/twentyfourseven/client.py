"""The 24SevenOffice connector, over its SOAP web services.

Auth: ``Authenticate.Login`` with the integration's ``ApplicationId`` and the
customer's community user (e-mail and password) answers a session id, sent as
the cookie ``ASP.NET_SessionId`` to every service on both domains
(api.24sevenoffice.com and webservices.24sevenoffice.com). One login per
connector: the documentation warns that repeated logins are throttled. When
a call answers a SOAP fault, ``HasSession`` (the documented check) tells an
expired session from a real fault; an expired one is renewed by one new
login and the call repeated once.

Companies are the login's *identities* (``GetIdentities``): each names a
client (company) by ``Client.Id``. The session is switched to a company with
``SetIdentityById`` whenever the next call is for another company than the
last, under a lock held for the switch and the call, so that no call can run
on another company's identity. Switching costs one request per change of
company; a session per identity would cost one login per company instead,
the same count, but logins are the throttled kind, and a process then holds
several sessions for the one user.

Postings come from ``TransactionService.GetTransactions`` by
``DateSearchParameters=EntryDate``: ``DateStart`` at 00:00:00 and ``DateEnd``
at 23:59:59 of the window's last day (the end is inclusive only up to its
time). The service has no paging and answers every match in one document, so
the window is read in parts of ``window_days`` days, each streamed through
lxml's pull parser (never one document in memory); a part whose answer holds
more than ``max_window_rows`` lines, or does not arrive within ``timeout``,
is split in two and read again, down to single days. A part's lines are
handed on only once its answer is complete, so a retried or split part never
doubles rows.

The nightly's back-dated vouchers come from the same operation by
``DateChangedUTC`` (lines created *or changed* in a UTC time range), added by
id: see :meth:`TwentyFourSevenConnector.stream_postings_created_since`.

Limits: 7,200 requests per hour per login; over it the service faults with
"Limit exceeded by N. Request is blocked. Quarantine ends at …". The budget is
kept by a :class:`SharedRateLimiter` whose state file is named after the user
name (hashed), so all runs of one login on this installation share it; a
quarantine fault fails the company at once, naming when it ends.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta

from lxml import etree

from osr_pipelines.connectors.base import (
    DIMENSION_COLUMNS,
    Batch,
    CompanyInfo,
    ConnectorError,
    CredentialLabels,
    CredentialsRejected,
    MalformedResponse,
    SourceCount,
    SourceUnavailable,
    Window,
)
from osr_pipelines.connectors.paging import LastCount
from osr_pipelines.connectors.ratelimit import SharedRateLimiter, state_path
from osr_pipelines.connectors.soap import (
    Collect,
    SoapClient,
    SoapFault,
    SoapTimeout,
    child_text,
    envelope,
    nil_element,
    text_element,
)
from osr_pipelines.connectors.twentyfourseven.facts import (
    CREDENTIALS,
    DEFAULT_URLS,
    RATE_LIMIT,
    URL_OPTIONS,
)
from osr_pipelines.connectors.twentyfourseven.mapping import (
    AUTH_NS,
    SERVICES,
    map_account,
    map_company,
    map_department,
    map_project,
    map_transaction,
)

SESSION_COOKIE = "ASP.NET_SessionId"
BATCH_ROWS = 10_000
_QUARANTINE = re.compile(r"Limit exceeded.*Quarantine ends at\s*(?P<until>.+?)\s*\.?\s*$", re.IGNORECASE | re.DOTALL)
_NO_COUNT = SourceCount(None, "", False, "24SevenOffice's GetTransactions reports no count (it has no paging and "
                                         "answers every matching line); checked against the lines received")


class WindowTooLarge(Exception):
    """A window's answer holds more lines than a part may."""


class _Lines:
    """Collects one window's mapped lines; refuses more than ``limit``."""

    def __init__(self, currency: str, limit: int, keep: Callable[[tuple], bool] | None = None) -> None:
        self.currency, self.limit, self.keep = currency, limit, keep
        self.rows: Batch = []

    def reset(self) -> None:
        self.rows = []

    def element(self, element: etree._Element) -> None:
        row = map_transaction(element, self.currency)
        if self.keep is None or self.keep(row):
            self.rows.append(row)
        if len(self.rows) > self.limit:
            raise WindowTooLarge()


class _Status:
    """A handler for one scalar answer (``LoginResult``, ``HasSessionResult``)."""

    def __init__(self) -> None:
        self.value: str | None = None

    def reset(self) -> None:
        self.value = None

    def element(self, element: etree._Element) -> None:
        self.value = (element.text or "").strip()


class TwentyFourSevenConnector:
    """One 24SevenOffice login (community user) reaching one or more companies through its identities."""

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 rate_clock: Callable[[], float] = time.time) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env, {"application_id": "24SevenOffice ApplicationId",
                                                        "username": "24SevenOffice user name (e-mail)"})
        self._label.require(connection, credentials, CREDENTIALS)
        self._credentials = {field: credentials[field] for field in CREDENTIALS}
        self._urls = {domain: options.get(option, DEFAULT_URLS[domain]).rstrip("/")
                      for domain, option in URL_OPTIONS.items()}
        self.window_days = int(options.get("window_days", 31))
        self.max_window_rows = int(options.get("max_window_rows", 100_000))
        self.currency_option = options.get("currency") or None
        limiter = SharedRateLimiter(
            state_path(options.get("rate_state_dir"), "24sevenoffice", credentials["username"].lower()),
            limit=int(options.get("rate_limit", RATE_LIMIT)), period=float(options.get("rate_period", 3600)),
            sleep=sleep, clock=rate_clock)
        self._soap = SoapClient(connection=connection, timeout=float(options.get("timeout", 120)), limiter=limiter,
                                sleep=sleep, max_connections=2)
        self._lock = threading.RLock()
        self._session: str | None = None
        self._identity: str | None = None  # the identity the session is switched to
        self._identities: dict[str, str] = {}  # company (client id) -> identity id
        self._currencies: dict[str, str] = {}
        self._last_count = LastCount()
        #: Requests sent, by operation: what a run cost, for the benchmark and the tests.
        self.requests: dict[str, int] = {}

    # -- calls --------------------------------------------------------------------------------

    def _send(self, service: str, operation: str, inner: str, records: tuple[str, ...], handler: object,
              company: str | None, *, retry_timeouts: bool = True) -> None:
        svc = SERVICES[service]
        body = envelope(operation, svc.namespace, inner)
        cookies = {SESSION_COOKIE: self._session} if self._session else None
        self.requests[operation] = self.requests.get(operation, 0) + 1
        self._soap.call(self._urls[svc.domain] + svc.path, svc.action(operation), body,
                        operation=f"{operation} ({svc.path.rsplit('/', 1)[-1]})",
                        records=tuple(f"{{{svc.namespace}}}{r}" for r in records), handler=handler,
                        company=company, cookies=cookies, retry_timeouts=retry_timeouts,
                        url_option=URL_OPTIONS[svc.domain])

    def _call(self, service: str, operation: str, inner: str, records: tuple[str, ...], handler: object,
              company: str | None, *, retry_timeouts: bool = True) -> None:
        """One call on the session (switched to ``company``'s identity), renewing an expired session once."""
        with self._lock:
            self._ensure_session()
            try:
                if company is not None:
                    self._switch(company)
                self._send(service, operation, inner, records, handler, company, retry_timeouts=retry_timeouts)
                return
            except SoapFault as fault:
                self._quarantined(fault)
                if self._has_session():
                    raise self._fault(fault) from None
            self._login()
            if company is not None:
                self._switch(company)
            try:
                self._send(service, operation, inner, records, handler, company, retry_timeouts=retry_timeouts)
            except SoapFault as fault:
                self._quarantined(fault)
                raise self._fault(fault) from None

    def _fault(self, fault: SoapFault) -> ConnectorError:
        return ConnectorError(f"24SevenOffice {fault.operation} failed with a SOAP fault ({fault.code}): "
                              f"{fault.text}", connection=self.connection, company=fault.company)

    def _quarantined(self, fault: SoapFault) -> None:
        found = _QUARANTINE.search(fault.text)
        if found:
            raise SourceUnavailable(
                f"24SevenOffice blocked this login for exceeding its 7,200 requests per hour ({fault.operation}); "
                f"the quarantine ends at {found['until'].strip()} (as 24SevenOffice states it): import again after "
                "that, and lower option 'rate_limit' if other tools use the same user",
                connection=self.connection, company=fault.company)

    # -- session and identities ------------------------------------------------------------------

    def _ensure_session(self) -> None:
        if self._session is None:
            self._login()

    def _login(self) -> None:
        """``Login``: the session id is ``LoginResult``; a fault or an empty result means refused credentials.

        The fault's text is not shown: it may quote the user name or worse, and
        the message names the credentials to check by their variables instead.
        """
        self._session, self._identity = None, None
        inner = ("<credential>" + text_element("ApplicationId", self._credentials["application_id"])
                 + text_element("Password", self._credentials["password"])
                 + text_element("Username", self._credentials["username"]) + "</credential>")
        status = _Status()
        refused = False
        try:
            self._send("auth", "Login", inner, ("LoginResult",), status, None)
        except SoapFault as fault:
            self._quarantined(fault)
            refused = True
        if refused or not status.value:
            labels = ", ".join(self._label(f) for f in CREDENTIALS)
            raise CredentialsRejected(f"24SevenOffice refused the login: check the {labels}",
                                      connection=self.connection, field="password")
        self._session = status.value

    def _has_session(self) -> bool:
        status = _Status()
        try:
            self._send("auth", "HasSession", "", ("HasSessionResult",), status, None)
        except SoapFault as fault:
            self._quarantined(fault)
            return False
        return status.value == "true"

    def _switch(self, company: str) -> None:
        identity = self._identity_of(company)
        if identity == self._identity:
            return
        status = _Status()
        self._send("auth", "SetIdentityById", text_element("identityId", identity), ("SetIdentityByIdResult",),
                   status, company)
        if status.value != "true":
            raise ConnectorError(f"SetIdentityById refused the company's identity {identity} (answered "
                                 f"{status.value!r}): the user {self._label('username')} may have lost access",
                                 connection=self.connection, company=company)
        self._identity = identity

    def _identity_of(self, company: str) -> str:
        if not self._identities:
            self._load_identities()
        try:
            return self._identities[company]
        except KeyError:
            raise ConnectorError(
                f"the login reaches no company with client id {company} (it reaches "
                f"{', '.join(sorted(self._identities)) or 'none'}): ask the customer to give the user "
                f"{self._label('username')} access to the company", connection=self.connection,
                company=company) from None

    def _load_identities(self) -> list[CompanyInfo]:
        def identity(element: etree._Element) -> tuple[str, CompanyInfo] | None:
            client = element.find(f"{{{AUTH_NS}}}Client")
            disabled = child_text(element, AUTH_NS, "IsDisabled") == "true"
            if client is None or disabled:
                return None
            client_id = child_text(client, AUTH_NS, "Id")
            if not client_id:
                raise MalformedResponse("GetIdentities answered an identity without Client.Id",
                                        connection=self.connection, field="Client.Id")
            return (child_text(element, AUTH_NS, "Id") or "",
                    CompanyInfo(client_id, child_text(client, AUTH_NS, "Name") or client_id))

        found = Collect(identity)
        self._send("auth", "GetIdentities", "", ("Identity",), found, None)
        pairs = [item for item in found.items if item is not None]
        self._identities = {info.erp_id: identity_id for identity_id, info in pairs}
        return [info for _, info in pairs]

    # -- the connector protocol ---------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The login's identities, each with the organisation number and currency ``GetClientInformation`` names."""
        with self._lock:
            self._ensure_session()
            try:
                companies = self._load_identities()
            except SoapFault as fault:
                self._quarantined(fault)
                raise self._fault(fault) from None
        return [CompanyInfo(c.erp_id, c.name, self._client_information(c.erp_id)) for c in companies]

    def _client_information(self, company: str) -> str | None:
        def info(element: etree._Element) -> tuple[str | None, str | None]:
            return (child_text(element, AUTH_NS, "OrganizationNumber") or None,
                    child_text(element, AUTH_NS, "DefaultCurrency") or None)

        found = Collect(info)
        self._call("client", "GetClientInformation", "", ("GetClientInformationResult",), found, company)
        organization, currency = found.items[0] if found.items else (None, None)
        if currency:
            self._currencies[company] = currency
        return organization

    def _currency(self, company: str) -> str:
        """The company's currency: option ``currency``, else ``GetClientInformation``'s ``DefaultCurrency``."""
        if self.currency_option:
            return self.currency_option
        if company not in self._currencies:
            self._client_information(company)
        return self._currencies.get(company) or "NOK"

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        try:
            yield from self._dimension(erp_id, dimension)
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedResponse(f"the {dimension} answered an unexpected record ({type(exc).__name__}: {exc})",
                                    connection=self.connection, company=erp_id) from None

    def _dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension == "accounts":
            found = Collect(map_account)
            self._call("account", "GetAccountList", "", ("AccountData",), found, erp_id)
        elif dimension == "departments":
            found = Collect(map_department)
            self._call("client", "GetDepartmentList", "", ("Department",), found, erp_id)
        elif dimension == "projects":
            found = Collect(map_project)
            self._call("project", "GetProjectList", "<Ps />", ("Project",), found, erp_id)
        else:
            kind = "Supplier"
            found = Collect(map_company)
            inner = ("<searchParams>" + text_element("ChangedAfter", "1900-01-01T00:00:00") + "</searchParams>"
                     "<returnProperties>" + "".join(text_element("string", p) for p in (
                         "Id", "Name", "OrganizationNumber", "Type")) + "</returnProperties>")
            self._call("company", "GetCompanies", inner, ("Company",), found, erp_id)
            found.items = [row for company_type, row in found.items
                           if (company_type == kind) == (dimension == "suppliers")]
        for start in range(0, len(found.items), BATCH_ROWS):
            yield found.items[start:start + BATCH_ROWS]

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Lines dated inside ``window`` (``EntryDate``), read in parts of at most ``window_days`` days."""
        return self._last_count.track(self._windows(erp_id, window), lambda: _NO_COUNT)

    def source_count(self) -> SourceCount:
        """None: ``GetTransactions`` reports no count."""
        return self._last_count.value

    def stream_postings_created_since(self, erp_id: str, window: Window, since: datetime) -> Iterator[Batch]:
        """Lines dated inside ``window`` and created or changed since ``since`` (naive means UTC).

        ``DateChangedUTC`` from ``since`` to now matches lines created *or*
        changed, so the nightly, which replaces its window of recent dates,
        also adds and updates by id every line entered or edited since the
        last run whatever its date. Lines deleted outside the window are not
        reported by any search and wait for the next full or year-to-date
        import. The answer is read in parts of the change time, split like
        date windows.
        """
        start = since.astimezone(UTC).replace(tzinfo=None) if since.tzinfo else since
        end = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5)
        first, last = window.start.isoformat(), (window.end - timedelta(days=1)).isoformat()

        def dated_inside(row: tuple) -> bool:
            return first <= row[2] <= last

        currency = self._currency(erp_id)
        parts = deque([(start, end)])
        while parts:
            low, high = parts.popleft()
            try:
                rows = self._read(erp_id, "DateChangedUTC", low, high, currency, dated_inside)
            except (WindowTooLarge, SoapTimeout):
                if high - low <= timedelta(minutes=1):
                    raise self._too_large(erp_id, f"the changes between {low} and {high} UTC") from None
                middle = low + (high - low) / 2
                parts.extendleft([(middle + timedelta(seconds=1), high), (low, middle)])
                continue
            yield from _batches(rows)

    # -- postings ----------------------------------------------------------------------------

    def _windows(self, erp_id: str, window: Window) -> Iterator[Batch]:
        currency = self._currency(erp_id)
        parts: deque[tuple[date, date]] = deque()
        day = window.start
        while day < window.end:
            last = min(day + timedelta(days=self.window_days - 1), window.end - timedelta(days=1))
            parts.append((day, last))
            day = last + timedelta(days=1)
        while parts:
            first, last = parts.popleft()
            try:
                rows = self._read(erp_id, "EntryDate", datetime.combine(first, datetime.min.time()),
                                  datetime.combine(last, datetime.min.time()).replace(hour=23, minute=59, second=59),
                                  currency)
            except (WindowTooLarge, SoapTimeout):
                if first == last:
                    raise self._too_large(erp_id, f"the lines dated {first}") from None
                middle = first + (last - first) // 2
                parts.extendleft([(middle + timedelta(days=1), last), (first, middle)])
                continue
            yield from _batches(rows)

    def _too_large(self, erp_id: str, what: str) -> ConnectorError:
        return ConnectorError(f"GetTransactions could not answer {what} within option 'timeout' or option "
                              f"'max_window_rows' ({self.max_window_rows}) lines: raise them",
                              connection=self.connection, company=erp_id, field="max_window_rows")

    def _read(self, erp_id: str, by: str, start: datetime, end: datetime, currency: str,
              keep: Callable[[tuple], bool] | None = None) -> Batch:
        """One ``GetTransactions`` call; every required element of ``TransactionSearchParameters`` is sent."""
        inner = ("<searchParams>" + text_element("DateSearchParameters", by)
                 + text_element("DateStart", start.isoformat(timespec="seconds"))
                 + text_element("DateEnd", end.isoformat(timespec="seconds"))
                 + nil_element("SystemType") + nil_element("HasInvoiceId") + "</searchParams>")
        lines = _Lines(currency, self.max_window_rows, keep)
        try:
            self._call("transaction", "GetTransactions", inner, ("Transaction",), lines, erp_id,
                       retry_timeouts=False)
        except (KeyError, ValueError, TypeError) as exc:
            raise MalformedResponse(f"GetTransactions answered an unexpected line ({type(exc).__name__}: {exc})",
                                    connection=self.connection, company=erp_id) from None
        return lines.rows

    def close(self) -> None:
        self._soap.close()


def _batches(rows: Batch) -> Iterator[Batch]:
    for start in range(0, len(rows), BATCH_ROWS):
        yield rows[start:start + BATCH_ROWS]

