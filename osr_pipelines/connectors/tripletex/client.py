"""The Tripletex API v2 connector.

Auth: a session token is created from the consumer and employee tokens
(``PUT /token/session/:create``) and sent as Basic ``<company>:<token>``,
where company ``0`` is the employee's own company and any other id one of an
accountant's clients (``GET /company/>withLoginAccess``). The session is
renewed a day before it expires and once when the API answers 401.

Rejected credentials raise :class:`CredentialsRejected` with messages such as
``connection 'acme', field 'employee_token': Tripletex rejected the employee
token (credential 'employee_token', env TRIPLETEX_EMPLOYEE_TOKEN) when creating
a session (HTTP 401)``; token values never appear.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from osr_pipelines.connectors.base import (
    DIMENSION_COLUMNS,
    Batch,
    CompanyInfo,
    ConnectorError,
    CredentialLabels,
    CredentialsRejected,
    MalformedResponse,
    SourceCount,
    Window,
    each,
    map_page,
)
from osr_pipelines.connectors.http import HttpClient, HttpStatusError, RateBudget, RateLimitHeaders, fetch_ahead
from osr_pipelines.connectors.paging import Count, LastCount, Page, Tally, Where, item_key, offset_pages
from osr_pipelines.connectors.tripletex.facts import CREDENTIALS, DEFAULT_BASE_URL
from osr_pipelines.connectors.tripletex.mapping import (
    DIMENSION_SOURCES,
    POSTING_FIELDS,
    Posting,
    decode_postings,
    map_postings,
)

_API_NAMES = {"consumerToken": "consumer_token", "employeeToken": "employee_token"}
RESULT_SET_TOO_LARGE = 23000


def split_by_year(window: Window) -> list[Window]:
    """Calendar-year pieces of ``window``, so that no request spans a whole history."""
    parts = []
    start = window.start
    while start < window.end:
        end = min(window.end, date(start.year + 1, 1, 1))
        parts.append(Window(start, end))
        start = end
    return parts


def halves(window: Window) -> tuple[Window, Window]:
    middle = window.start + timedelta(days=(window.end - window.start).days // 2)
    return Window(window.start, middle), Window(middle, window.end)


class TripletexConnector:
    """One Tripletex employee token: its own company, or an accountant's clients.

    ``credentials`` maps ``consumer_token``/``employee_token`` to values;
    ``credential_env`` optionally maps them to the environment variables
    they came from, so that messages can tell users which one to fix.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 today: Callable[[], date] = date.today) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env)
        self._label.require(connection, credentials, CREDENTIALS)
        self._credentials = {name: credentials[name] for name in CREDENTIALS}
        self.page_size = int(options.get("page_size", 10_000))
        self.session_days = int(options.get("session_days", 2))
        self.workers = int(options.get("workers", 2))
        self._today = today
        headers = RateLimitHeaders()
        self._http = HttpClient(
            options.get("base_url", DEFAULT_BASE_URL), connection=connection, rate_headers=headers,
            limiter=RateBudget(headers, sleep, reserve=int(options.get("rate_reserve", 0))), sleep=sleep,
            timeout=float(options.get("timeout", 120)), max_connections=self.workers + 1)
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: date | None = None
        self._own_company: str | None = None
        self._last_count = LastCount()

    # -- auth -----------------------------------------------------------------------------

    def _rejected(self, field: str | None, what: str) -> CredentialsRejected:
        if field is None:
            labels = " or the ".join(self._label(f) for f in CREDENTIALS)
            return CredentialsRejected(f"Tripletex rejected the {labels} {what}", connection=self.connection)
        return CredentialsRejected(f"Tripletex rejected the {self._label(field)} {what}",
                                   connection=self.connection, field=field)

    def _create_session(self) -> None:
        expires = self._today() + timedelta(days=self.session_days)
        params = {"consumerToken": self._credentials["consumer_token"],
                  "employeeToken": self._credentials["employee_token"],
                  "expirationDate": expires.isoformat()}
        try:
            body = self._http.request_json("PUT", "/token/session/:create", params=params)
        except HttpStatusError as err:
            fields = {m.get("field") for m in _validation(err.payload)} & set(_API_NAMES)
            if err.status in (401, 403) or fields:
                field = _API_NAMES[fields.pop()] if len(fields) == 1 else None
                raise self._rejected(field, f"when creating a session (HTTP {err.status})") from None
            if err.status == 404:  # the first request: a base_url without the API's base path lands here
                raise ConnectorError(
                    "creating a session answered HTTP 404 (no PUT /token/session/:create there); the base_url option "
                    f"must be the API's base URL, ending with its base path /v2 (e.g. {DEFAULT_BASE_URL})",
                    connection=self.connection) from None
            raise self._failure(err, "creating a session") from None
        try:
            self._token = body["value"]["token"]
        except (KeyError, TypeError):
            raise MalformedResponse("session creation answered without value.token",
                                    connection=self.connection) from None
        self._expires = expires

    def _session(self, stale: str | None = None) -> str:
        """The current session token; a new one if it expires within a day or ``stale`` was refused."""
        with self._lock:
            expiring = self._expires is None or self._today() >= self._expires - timedelta(days=1)
            if self._token is None or expiring or self._token == stale:
                self._create_session()
            assert self._token is not None
            return self._token

    def _user(self, company: str | None) -> str:
        if company is None:
            return "0"
        if self._own_company is None:
            self._own_company = str(self._who_am_i()["companyId"])
        return "0" if company == self._own_company else company

    # -- requests ---------------------------------------------------------------------------

    def _call(self, path: str, params: Mapping[str, Any], company: str | None,
              decoder: Callable[[bytes], Any] | None = None) -> Any:
        """GET with the session, renewing it once on 401; other 4xx stay :class:`HttpStatusError`."""
        user = self._user(company)
        token = self._session()
        try:
            return self._http.request_json("GET", path, params=params, auth=(user, token), company=company,
                                           decoder=decoder)
        except HttpStatusError as err:
            if err.status != 401:
                raise
        token = self._session(stale=token)
        return self._http.request_json("GET", path, params=params, auth=(user, token), company=company,
                                       decoder=decoder)

    def _get(self, path: str, params: Mapping[str, Any], company: str | None) -> Any:
        try:
            return self._call(path, params, company)
        except HttpStatusError as err:
            raise self._failure(err, f"GET {path}") from None

    def _failure(self, err: HttpStatusError, what: str) -> ConnectorError:
        where = f"for company {err.company}" if err.company else "for its own company"
        if err.status == 401:
            return self._rejected("employee_token", f"{where}: a fresh session was refused on {what} (HTTP 401)")
        if err.status == 403:
            return self._rejected("employee_token", f"{where}: no access to {what} (HTTP 403)")
        code = err.payload.get("code") if isinstance(err.payload, dict) else None
        return ConnectorError(f"{what} answered HTTP {err.status} (Tripletex code {code})",
                              connection=self.connection, company=err.company)

    def _pages(self, path: str, params: Mapping[str, Any], company: str | None,
               decoder: Callable[[bytes], Any] | None = None, count: Count | None = None) -> Iterator[list]:
        """``values`` of each page, walking ``from``/``count`` until a short or empty page.

        ``fullResultSize`` is not paged by: the spec calls it deprecated and "not
        exact"; it only goes to ``count``. Pages are dicts, or with ``decoder``
        objects with ``values`` and ``fullResultSize`` attributes.
        """
        def fetch(start: int, size: int) -> Page:
            body = self._call(path, {**params, "from": start, "count": size}, company, decoder)
            try:
                if decoder is not None:
                    return Page(body.values, body.fullResultSize)
                return Page(body["values"], body.get("fullResultSize"))
            except (KeyError, TypeError, AttributeError):
                raise MalformedResponse(f"GET {path} answered without values", connection=self.connection,
                                        company=company) from None

        where = Where("Tripletex", f"GET {path}", self.connection, company)
        return offset_pages(fetch, size=self.page_size, where=where, parameter="from", key=item_key("id"),
                            count=count)

    def _who_am_i(self) -> dict:
        body = self._get("/token/session/>whoAmI", {"fields": "companyId,company(id,name,organizationNumber)"},
                         None)
        try:
            return body["value"]
        except (KeyError, TypeError):
            raise MalformedResponse("whoAmI answered without value", connection=self.connection) from None

    # -- the connector protocol ---------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """An accountant's clients if the token has any, else the employee's own company."""
        me = self._who_am_i()
        self._own_company = str(me["companyId"])
        try:
            clients = [c for page in self._pages("/company/>withLoginAccess",
                                                 {"fields": "id,name,organizationNumber"}, None) for c in page]
        except HttpStatusError as err:
            if err.status != 403:
                raise self._failure(err, "GET /company/>withLoginAccess") from None
            clients = []
        if clients:
            return [CompanyInfo(str(c["id"]), c.get("name") or str(c["id"]), c.get("organizationNumber") or None)
                    for c in clients]
        company = me.get("company") or {}
        return [CompanyInfo(self._own_company, company.get("name") or self._own_company,
                            company.get("organizationNumber") or None)]

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        source = DIMENSION_SOURCES[dimension]
        params = {"fields": source.fields}
        mapper = each(source.mapper)
        seen: set[str] = set()  # an object changing state between two passes would come twice
        try:
            for filters in source.filters:
                for page in self._pages(source.path, {**params, **filters}, erp_id):
                    rows = map_page(page, mapper, connection=self.connection, company=erp_id)
                    if len(source.filters) > 1:
                        rows = [row for row in rows if row[0] not in seen]
                        seen.update(row[0] for row in rows)
                    yield rows
        except HttpStatusError as err:
            raise self._failure(err, f"GET {source.path}") from None

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Postings of ``window``, a request series per year, ``workers`` years fetched at once.

        Each year runs at most two pages ahead of the one being mapped, so
        memory is bounded while the round trips of several years overlap.
        """
        tally = Tally("fullResultSize", exact=False, note="deprecated and \"not exact\" in the spec")
        return self._last_count.track(self._postings(erp_id, window, tally), tally.result)

    def source_count(self) -> SourceCount:
        """``fullResultSize`` of each request series, summed; the spec says it is not exact."""
        return self._last_count.value

    def _postings(self, erp_id: str, window: Window, count: Count) -> Iterator[Batch]:
        years = (self._window_pages(erp_id, part, count) for part in split_by_year(window))
        pages = fetch_ahead(years, workers=self.workers, depth=2)
        try:
            for page in pages:
                yield map_page(page, map_postings, connection=self.connection, company=erp_id)
        finally:
            pages.close()

    def _window_pages(self, erp_id: str, window: Window, count: Count) -> Iterator[list[Posting]]:
        """Pages of one window; a window Tripletex finds too large is fetched as two halves."""
        params = {"dateFrom": window.start.isoformat(), "dateTo": window.end.isoformat(), "fields": POSTING_FIELDS}
        started = False
        try:
            for page in self._pages("/ledger/posting", params, erp_id, decode_postings, count):
                started = True
                yield page
        except HttpStatusError as err:
            code = err.payload.get("code") if isinstance(err.payload, dict) else None
            splittable = (err.status == 422 and code == RESULT_SET_TOO_LARGE and not started
                          and window.end - window.start > timedelta(days=1))
            if not splittable:
                raise self._failure(err, f"GET /ledger/posting {window}") from None
            for half in halves(window):
                yield from self._window_pages(erp_id, half, count)

    def close(self) -> None:
        self._http.close()


def _validation(payload: Any) -> list[dict]:
    if isinstance(payload, dict) and isinstance(payload.get("validationMessages"), list):
        return [m for m in payload["validationMessages"] if isinstance(m, dict)]
    return []
