"""The PowerOffice Go API v2 connector.

Auth: OAuth 2 client credentials at ``/OAuth/Token`` beside ``/v2``, with
Basic ``application key : client key``; every call (token and API) carries the
``Ocp-Apim-Subscription-Key`` header. One client key reaches one Go client
(company), so a connection holds one or more keys (``client_key`` or
``client_key_<label>`` credentials), each with its own 20-minute token,
renewed ahead of expiry. ``GET /ClientIntegrationInformation`` tells which
company a key reaches; its ``ClientId`` is the company's ``erp_id``.

PowerOffice throttles at 10 requests per second per subscription key, however
many clients and processes use it, so requests pass a
:class:`~osr_pipelines.connectors.ratelimit.SharedRateLimiter` whose state
file every run of the connection on this machine shares.

Rejected keys raise :class:`CredentialsRejected` naming the credential field
and its environment variable, never a key's value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

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
from osr_pipelines.connectors.http import HttpClient, HttpStatusError, RateLimitHeaders, prefetch
from osr_pipelines.connectors.kind import in_family
from osr_pipelines.connectors.oauth import ClientCredentials
from osr_pipelines.connectors.paging import Count, LastCount, Page, Tally, Where, item_key, numbered_pages
from osr_pipelines.connectors.poweroffice.facts import (
    CLIENT_KEY,
    CREDENTIALS,
    DEFAULT_BASE_URL,
    MAX_PAGE_SIZE,
    RATE_LIMIT,
)
from osr_pipelines.connectors.poweroffice.mapping import (
    DIMENSION_SOURCES,
    TRANSACTION_FIELDS,
    decode_transactions,
    map_transactions,
)
from osr_pipelines.connectors.ratelimit import SharedRateLimiter, state_path

SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
#: ``FinancialSettingsDto.CurrencyCode``: "only NOK is supported and this property will allways return NOK".
DEFAULT_CURRENCY = "NOK"


def token_url(base_url: str) -> str:
    """The token endpoint beside the API: ``.../Demo/v2`` -> ``.../Demo/OAuth/Token``."""
    root = base_url.rstrip("/")
    return root.removesuffix("/v2") + "/OAuth/Token"


def pagination(header: str | None) -> dict[str, Any] | None:
    """``X-Pagination`` as a dict with lower-cased keys, or ``None`` when absent or not a JSON object."""
    if header is None:
        return None
    try:
        return {str(k).lower(): v for k, v in orjson.loads(header).items()}
    except (orjson.JSONDecodeError, AttributeError):
        return None


def next_page(header: str | None, page: int) -> int | None:
    """The page after ``page`` from ``X-Pagination``, or ``None`` when it names none.

    The link's ``PageNumber`` is used when it has one; the request is rebuilt
    from our own path and parameters, so a link naming an internal host does
    not matter. Without the header (or a link or page count in it) the next
    page is asked for: only a 204 or an empty page ends the list, since a short
    page may be one the server trimmed to its own ``MaxPageSize``.
    """
    fields = pagination(header)
    if fields is None:
        return page + 1
    if "nextpagelink" not in fields:  # another header shape: its page count, else ask for the next page
        current, total = fields.get("currentpage", page), fields.get("totalpages")
        if isinstance(current, int) and isinstance(total, int):
            return current + 1 if current < total else None
        return page + 1
    link = fields["nextpagelink"]
    if not link:
        return None
    numbers = [v for k, v in parse_qsl(urlsplit(str(link)).query) if k.lower() == "pagenumber"]
    return int(numbers[0]) if numbers and numbers[0].isdigit() else page + 1


def total_count(header: str | None) -> int | None:
    """``TotalCount`` of ``X-Pagination`` (any letter case): the rows of the whole request, if it says."""
    total = (pagination(header) or {}).get("totalcount")
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None


class PowerOfficeConnector:
    """One PowerOffice Go integration: an application key, a subscription key and client keys.

    ``credentials`` maps ``application_key``, ``subscription_key`` and each
    ``client_key``/``client_key_<label>`` to values; ``credential_env`` maps
    them to the environment variables they came from, for messages.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, rate_clock: Callable[[], float] = time.time) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env)
        self._label.require(connection, credentials, CREDENTIALS)
        self._client_keys = {f: v for f, v in sorted(credentials.items()) if in_family(f, CLIENT_KEY) and v}
        if not self._client_keys:
            raise ConnectorError("no client key: name one in 'client_key' or 'client_key_<label>'",
                                 connection=connection, field=CLIENT_KEY)
        self._application_key = credentials["application_key"]
        # MaxPageSize by default: with 10 requests per second, the page size caps the read rate.
        self.page_size = int(options.get("page_size", MAX_PAGE_SIZE))
        base_url = options.get("base_url", DEFAULT_BASE_URL)
        self._token_url = options.get("token_url") or token_url(base_url)
        self._renew_before = float(options.get("renew_before", 120))
        self._clock = clock
        subscription = credentials["subscription_key"]
        limiter = SharedRateLimiter(
            state_path(options.get("rate_state_dir"), "poweroffice", subscription),
            limit=int(options.get("rate_limit", RATE_LIMIT)), period=float(options.get("rate_period", 1.1)),
            sleep=sleep, clock=rate_clock)
        self._http = HttpClient(base_url, connection=connection, headers={SUBSCRIPTION_HEADER: subscription},
                                rate_headers=RateLimitHeaders(remaining=None, reset=None), limiter=limiter,
                                sleep=sleep, timeout=float(options.get("timeout", 120)))
        self._auth: dict[str, ClientCredentials] = {}
        self._company_of: dict[str, str] = {}  # client key field -> ClientId
        self._proven: set[str] = set()  # client key fields that got a token: the application key is good
        self._currencies: dict[str, str] = {}  # company -> its currency
        self._last_count = LastCount()

    # -- credentials and errors ----------------------------------------------------------------

    def _auth_for(self, field: str) -> ClientCredentials:
        auth = self._auth.get(field)
        if auth is None:
            auth = self._auth[field] = ClientCredentials(
                self._http, self._token_url, basic=(self._application_key, self._client_keys[field]),
                rejected=lambda err: self._token_refused(field, err), renew_before=self._renew_before,
                clock=self._clock)
        return auth

    def _token_refused(self, field: str, err: HttpStatusError) -> ConnectorError:
        """Tell a bad subscription key (the API gateway's 401) from a refused application/client key pair."""
        if _subscription_refused(err):
            return CredentialsRejected(f"PowerOffice rejected the {self._label('subscription_key')} "
                                       f"(HTTP {err.status})", connection=self.connection, field="subscription_key")
        reason = _oauth_error(err.payload)
        what = f"(HTTP {err.status}{f': {reason}' if reason else ''})"
        if err.status not in (400, 401, 403):
            return ConnectorError(f"the token endpoint answered {what} for the {self._label(field)}",
                                  connection=self.connection, field=field)
        return self._pair_refused(field, what)

    def _pair_refused(self, field: str, what: str) -> PairRefused:
        """Blames the client key alone once another key proved the application key good."""
        if self._proven:
            message = (f"PowerOffice refused the {self._label(field)} {what}; the application key is valid "
                       "(another client key got a token)")
        else:
            message = (f"PowerOffice refused the {self._label(field)} or the {self._label('application_key')} "
                       f"when issuing a token {what}")
        return PairRefused(message, what, connection=self.connection, field=field)

    def _failure(self, err: HttpStatusError, field: str, what: str) -> ConnectorError:
        if _subscription_refused(err):
            return CredentialsRejected(f"PowerOffice rejected the {self._label('subscription_key')} on {what} "
                                       f"(HTTP {err.status})", connection=self.connection, company=err.company,
                                       field="subscription_key")
        if err.status == 401:
            return CredentialsRejected(f"a fresh token of the {self._label(field)} was refused on {what} (HTTP 401)",
                                       connection=self.connection, company=err.company, field=field)
        if err.status == 403:
            return CredentialsRejected(f"the integration of the {self._label(field)} lacks the privilege for {what} "
                                       "(HTTP 403; GET /ClientIntegrationInformation lists InvalidPrivileges)",
                                       connection=self.connection, company=err.company, field=field)
        problem = _problem(err.payload)
        return ConnectorError(f"{what} answered HTTP {err.status}{f' ({problem})' if problem else ''}",
                              connection=self.connection, company=err.company)

    # -- requests --------------------------------------------------------------------------------

    def _get(self, field: str, path: str, params: Mapping[str, Any] | None, company: str | None, *,
             decoder: Callable[[bytes], Any] | None = None, with_headers: bool = False) -> Any:
        auth = self._auth_for(field)
        try:
            answer = auth.request_json("GET", path, params=params, company=company, decoder=decoder,
                                       with_headers=with_headers)
        except HttpStatusError as err:
            raise self._failure(err, field, f"GET {path}") from None
        self._proven.add(field)
        return answer

    def _pages(self, field: str, path: str, params: Mapping[str, Any], company: str,
               decoder: Callable[[bytes], Any] | None = None, count: Count | None = None) -> Iterator[list]:
        """Each page's array, following ``X-Pagination`` until a 204 or an empty page, never stopping at a
        short one (the server may trim ``PageSize`` to its ``MaxPageSize``). A 204 counts as zero rows."""
        def fetch(number: int, size: int) -> Page:
            body, headers = self._get(field, path, {**params, "PageNumber": number, "PageSize": size},
                                      company, decoder=decoder, with_headers=True)
            if body is None:
                return Page([], total=0)
            if not isinstance(body, list):
                raise MalformedResponse(f"GET {path} answered {type(body).__name__}, not an array",
                                        connection=self.connection, company=company)
            header = headers.get("X-Pagination")
            following = next_page(header, number)
            return Page(body, total_count(header), following, more=following is not None)

        where = Where("PowerOffice", f"GET {path}", self.connection, company)
        return numbered_pages(fetch, size=self.page_size, where=where, parameter="PageNumber", key=item_key("Id"),
                              stop_on_short=False, count=count)

    def _client_info(self, field: str) -> dict:
        """``GET /ClientIntegrationInformation`` of a key; remembers the ``ClientId`` it reaches."""
        info = self._get(field, "/ClientIntegrationInformation", None, None)
        client_id = info.get("ClientId") if isinstance(info, dict) else None
        if not client_id:
            raise MalformedResponse("GET /ClientIntegrationInformation answered without ClientId",
                                    connection=self.connection, field=field)
        self._company_of[field] = str(client_id)
        return info

    def _client_id(self, field: str) -> str:
        if field not in self._company_of:
            self._client_info(field)
        return self._company_of[field]

    def _for_company(self, err: ConnectorError, erp_id: str, more: str = "") -> ConnectorError:
        """``err`` naming ``erp_id``: token refusals know no company; the import that failed does."""
        if err.company is not None and not more:
            return err
        kind = CredentialsRejected if isinstance(err, CredentialsRejected) else ConnectorError
        return kind(err.reason + more, connection=self.connection, company=erp_id, field=err.field)

    def _key_for(self, erp_id: str) -> str:
        """The client key field that reaches ``erp_id``; ``client_key_<erp_id>`` is tried first."""
        for field, client_id in self._company_of.items():
            if client_id == erp_id:
                return field
        guess = f"{CLIENT_KEY}_{erp_id}"
        refused: list[ConnectorError] = []
        for field in sorted(self._client_keys, key=lambda f: f != guess):
            if field in self._company_of:
                continue
            try:
                if self._client_id(field) == erp_id:
                    return field
            except ConnectorError as err:
                if err.company is not None or err.field != field:
                    # not about this key (the subscription key, say): no other key can help
                    raise self._for_company(err, erp_id) from None
                refused.append(err)  # a revoked key of another company must not stop this one
        if refused:
            others = f" ({len(refused) - 1} other key(s) refused too)" if len(refused) > 1 else ""
            raise self._for_company(refused[0], erp_id, others)
        raise ConnectorError("none of the connection's client keys reaches this company", connection=self.connection,
                             company=erp_id, field=CLIENT_KEY)

    # -- the connector protocol ---------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The company of every client key; every key is checked, and all refused ones are named."""
        companies: list[CompanyInfo] = []
        refused: list[CredentialsRejected] = []
        for field in self._client_keys:
            try:
                info = self._client_info(field)
            except CredentialsRejected as err:
                if err.field == "subscription_key":
                    raise
                refused.append(err)
                continue
            client_id = self._company_of[field]
            companies.append(CompanyInfo(client_id, info.get("ClientName") or client_id,
                                         self._organization_number(field, client_id)))
        if refused:
            refused = [self._pair_refused(err.field or CLIENT_KEY, err.status) if isinstance(err, PairRefused)
                       else err for err in refused]
            if len(refused) == 1:
                raise refused[0]
            raise CredentialsRejected("; ".join(err.reason for err in refused), connection=self.connection,
                                      field=refused[0].field)
        return companies

    def _organization_number(self, field: str, erp_id: str) -> str | None:
        """From ``GET /OrganizationSettings``, when the integration may read it."""
        try:
            settings = self._get(field, "/OrganizationSettings", None, erp_id)
        except CredentialsRejected as err:
            if err.field == "subscription_key":
                raise
            return None
        return (settings.get("OrganizationNumber") or None) if isinstance(settings, dict) else None

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        path, mapper = DIMENSION_SOURCES[dimension]
        field = self._key_for(erp_id)
        for page in self._pages(field, path, {}, erp_id):
            yield map_page(page, each(mapper), connection=self.connection, company=erp_id)

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Transactions posted inside ``window``, the next page fetched while this one maps."""
        return self._transactions(erp_id, window, {})

    def stream_postings_created_since(self, erp_id: str, window: Window, since: datetime) -> Iterator[Batch]:
        """Transactions posted inside ``window`` and entered after ``since`` (naive means UTC).

        Catches vouchers entered back-dated since the last run, whatever their
        date, with PowerOffice's own polling filter (``createdDateTimeOffsetGreaterThan``,
        exclusive): ``window`` can be wide (the year so far) at the cost of one
        page of new postings. Posted vouchers change only by new (reversal and
        correction) vouchers, so entries since ``since`` are all that changed.
        """
        return self._transactions(erp_id, window, {"createdDateTimeOffsetGreaterThan": _utc_iso(since)})

    def source_count(self) -> SourceCount:
        """``TotalCount`` of the first page's ``X-Pagination`` (0 for a 204)."""
        return self._last_count.value

    def _transactions(self, erp_id: str, window: Window, filters: Mapping[str, str]) -> Iterator[Batch]:
        tally = Tally("X-Pagination TotalCount", exact=True)
        return self._last_count.track(self._transaction_batches(erp_id, window, filters, tally), tally.result)

    def _transaction_batches(self, erp_id: str, window: Window, filters: Mapping[str, str],
                             count: Count) -> Iterator[Batch]:
        """``fromDate`` and ``toDate`` are both inclusive: the half-open window ends the day before ``end``."""
        field = self._key_for(erp_id)
        params = {"fromDate": window.start.isoformat(), "toDate": (window.end - timedelta(days=1)).isoformat(),
                  **filters, "Fields": TRANSACTION_FIELDS}
        pages = prefetch(self._pages(field, "/AccountTransactions", params, erp_id, decode_transactions, count),
                         depth=2)
        try:
            for page in pages:
                currency = self._currency(field, erp_id) if any(t.CurrencyCode is None for t in page) else None
                yield map_page(page, lambda p, c=currency: map_transactions(p, c), connection=self.connection,
                               company=erp_id)
        finally:
            pages.close()

    def _currency(self, field: str, erp_id: str) -> str:
        """The company's currency, ``CurrencyCode`` of ``GET /FinancialSettings`` (asked once).

        The spec says it is NOK for every client "as of now", so NOK stands in
        when the integration lacks the ``CommonServices`` privilege to ask.
        """
        if erp_id not in self._currencies:
            try:
                settings = self._auth_for(field).request_json("GET", "/FinancialSettings", company=erp_id)
            except HttpStatusError as err:
                if err.status != 403:
                    raise self._failure(err, field, "GET /FinancialSettings") from None
                settings = None
            code = settings.get("CurrencyCode") if isinstance(settings, dict) else None
            self._currencies[erp_id] = code or DEFAULT_CURRENCY
        return self._currencies[erp_id]

    def close(self) -> None:
        self._http.close()


class PairRefused(CredentialsRejected):
    """The token endpoint refused an application key / client key pair; ``status`` says how."""

    def __init__(self, message: str, status: str, *, connection: str, field: str) -> None:
        super().__init__(message, connection=connection, field=field)
        self.status = status


def _utc_iso(moment: datetime) -> str:
    """An ISO date-time with its offset, as the ``*GreaterThan`` filters take it; naive means UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _subscription_refused(err: HttpStatusError) -> bool:
    """The API gateway's own 401 (Azure API Management), before PowerOffice sees the request:
    ``{"statusCode": 401, "message": "Access denied due to invalid subscription key. ..."}``."""
    message = err.payload.get("message") if isinstance(err.payload, dict) else None
    return err.status == 401 and isinstance(message, str) and "subscription key" in message.lower()


def _problem(payload: Any) -> str | None:
    """``title: detail`` of a ProblemDetails body, or whichever of them it has.

    The spec's examples spell them ``title``/``detail`` (RFC 7807's names), its
    ``ProblemDetails`` schema ``Title``/``Detail``; both are read.
    """
    if not isinstance(payload, dict):
        return None

    def member(name: str) -> str | None:
        value = payload.get(name) or payload.get(name.capitalize())
        return value if isinstance(value, str) else None

    return ": ".join(part for part in (member("title"), member("detail")) if part) or None


def _oauth_error(payload: Any) -> str | None:
    """The OAuth ``error`` code (``invalid_client``): a fixed word, never an echo of the key."""
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, str) and error.replace("_", "").isalnum() and len(error) < 40 else None

