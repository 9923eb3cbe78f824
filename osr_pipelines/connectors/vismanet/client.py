"""The Visma.net ERP (Financials) connector.

Auth: Visma Connect client credentials (``POST /connect/token`` with
``client_id``, ``client_secret``, ``tenant_id`` and the read scope), shared
through :class:`ClientCredentials` and renewed ahead of expiry. With Visma
Connect a token is issued for one *company tenant* and reaches that one
company, so requests name no company (no ``ipp-company-id`` header): the
token does. One connection may hold several company tenants (option
``tenant_id``, comma-separated), each with its own token, connection pool and
rate budget, because Visma.net counts its rate limit per company and client.
A *customer* tenant id also gets a token, but the API then answers 401: after
one renewal the connector says so, naming the ``tenant_id`` option.

Companies: ``GET /API/resources/v1/context`` (option ``context_path``) with a
tenant's token answers that tenant's company ``{id, name, type}``; the
company id is the context id. With ``context_path`` empty the tenant ids
themselves are the company ids, for a service where that lookup is refused.

Postings come from ``GET /v1/GeneralLedgerTransactions`` (screen GL404000)
rather than from journal transactions, because it is the only endpoint that
filters by *date* on the server: ``fromDate``/``toDate`` (both inclusive) give
exactly the half-open window ``[start, end)`` as ``[start, end - 1 day]``.
``v2/journaltransaction`` selects whole batches by ``periodId`` (the post
period, which need not be the period of the date, so windows would miss or
gain lines and need client-side filtering of full periods), includes batches
on hold or unposted, and pages lines so that a batch can span pages; by
``lastModifiedDateTime`` it finds changed batches but never deleted ones, so
it cannot replace a window. The mandatory ``fromPeriod``/``toPeriod`` are the
company's own financial periods around the window (see :mod:`.periods`).

Paging: ``pageNumber`` (1-based) and ``pageSize`` are mandatory; the page
size is capped by ``metadata.maxPageSize`` from the first page's items, and
``metadata.totalCount`` names every later page, so up to ``workers`` (option,
default 4) are requested at once: with pages of at most a few thousand lines,
a full import is otherwise a long series of round trips. A page that repeats
the previous one ends the walk with :class:`MalformedResponse`, so a server
that ignores ``pageNumber`` cannot keep an import looping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec

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
)
from osr_pipelines.connectors.http import (
    HttpClient,
    HttpStatusError,
    RateBudget,
    RateLimitHeaders,
    prefetch,
)
from osr_pipelines.connectors.oauth import ClientCredentials
from osr_pipelines.connectors.paging import Count, LastCount, Page, Tally, Where, numbered_pages
from osr_pipelines.connectors.vismanet.facts import (
    CREDENTIALS,
    DEFAULT_BASE_URL,
    DEFAULT_CONTEXT_PATH,
    DEFAULT_SCOPE,
    DEFAULT_TOKEN_URL,
)
from osr_pipelines.connectors.vismanet.mapping import DIMENSION_SOURCES, Metadata, decode_gl_lines, map_gl_lines
from osr_pipelines.connectors.vismanet.periods import Period, parse_periods, period_range

RATE_HEADERS = RateLimitHeaders(remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset")
GL_PATH = "/v1/GeneralLedgerTransactions"
PERIODS_PATH = "/v1/financialPeriod"


@dataclass(frozen=True)
class _Tenant:
    """One company tenant: its token and its own pool and rate budget."""

    tenant_id: str
    http: HttpClient
    auth: ClientCredentials


class VismaNetConnector:
    """One Visma Connect service client, on one or more company tenants.

    ``credentials`` maps ``client_id``/``client_secret`` to values;
    ``credential_env`` optionally maps them to the environment variables
    they came from, so that messages tell users which one to fix.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env)
        self._label.require(connection, credentials, CREDENTIALS)
        tenant_ids = list(dict.fromkeys(t.strip() for t in options.get("tenant_id", "").split(",") if t.strip()))
        if not tenant_ids:
            raise ConnectorError("option 'tenant_id' (the Visma.net company tenant id, or several separated "
                                 "by commas) is missing", connection=connection, field="tenant_id")
        self.context_path = options.get("context_path", DEFAULT_CONTEXT_PATH)
        self.page_size = int(options.get("page_size", 10_000))
        self.period_margin = int(options.get("period_margin", 1))
        self.workers = int(options.get("workers", 4))
        self.ledger = options.get("ledger") or None
        self.currency = options.get("currency", "NOK")

        def tenant(tenant_id: str) -> _Tenant:
            http = HttpClient(
                options.get("base_url", DEFAULT_BASE_URL), connection=connection, rate_headers=RATE_HEADERS,
                limiter=RateBudget(RATE_HEADERS, sleep, reserve=int(options.get("rate_reserve", 0))), sleep=sleep,
                timeout=float(options.get("timeout", 120)), max_connections=self.workers + 1)
            auth = ClientCredentials(
                http, options.get("token_url", DEFAULT_TOKEN_URL),
                rejected=lambda err: self._token_refused(err, tenant_id),
                form={"scope": options.get("scope", DEFAULT_SCOPE), "client_id": credentials["client_id"],
                      "client_secret": credentials["client_secret"], "tenant_id": tenant_id},
                clock=clock)
            return _Tenant(tenant_id, http, auth)

        self._tenants = {t: tenant(t) for t in tenant_ids}
        #: company id -> its tenant; known up front when the tenants are the companies
        self._company_tenant: dict[str, _Tenant] = {} if self.context_path else dict(self._tenants)
        self._ledgers: dict[str, str] = {}
        self._periods: dict[str, list[Period]] = {}
        self._lock = threading.Lock()
        self._last_count = LastCount()

    # -- errors -----------------------------------------------------------------------------

    def _token_refused(self, err: HttpStatusError, tenant_id: str) -> ConnectorError:
        code = err.payload.get("error") if isinstance(err.payload, dict) else None
        if err.status in (400, 401) and code in (None, "invalid_client", "unauthorized_client"):
            labels = " or the ".join(self._label(f) for f in CREDENTIALS)
            return CredentialsRejected(f"Visma Connect rejected the {labels} (HTTP {err.status}, {code})",
                                       connection=self.connection, field="client_secret")
        return ConnectorError(f"Visma Connect refused a token for tenant {tenant_id} of option 'tenant_id' "
                              f"(HTTP {err.status}, {code}): check that the client was granted this tenant",
                              connection=self.connection, field="tenant_id")

    def _failure(self, err: HttpStatusError, what: str, tenant: _Tenant) -> ConnectorError:
        if err.status == 401:
            return CredentialsRejected(
                f"the API refused a fresh token on {what} (HTTP 401): option 'tenant_id' ({tenant.tenant_id}) "
                "must be the company tenant id, not the customer tenant id, which authenticates but may not "
                "call the API", connection=self.connection, company=err.company, field="tenant_id")
        if err.status == 403:
            return CredentialsRejected(
                f"no access on {what} (HTTP 403): grant the client ({self._label('client_id')}) read access "
                f"to the company of tenant {tenant.tenant_id}", connection=self.connection, company=err.company,
                field="client_id")
        message = err.payload.get("ExceptionMessage") if isinstance(err.payload, dict) else None
        return ConnectorError(f"{what} answered HTTP {err.status}" + (f": {message}" if message else ""),
                              connection=self.connection, company=err.company)

    # -- requests -----------------------------------------------------------------------------

    def _get(self, tenant: _Tenant, path: str, params: Mapping[str, Any] | None, company: str | None,
             decoder: Callable[[bytes], Any] | None = None) -> Any:
        """GET with the tenant's token; ``company`` only names the company in errors."""
        try:
            return tenant.auth.request_json("GET", path, params=params, company=company, decoder=decoder)
        except HttpStatusError as err:
            raise self._failure(err, f"GET {path}", tenant) from None

    def _metadata(self, path: str, item: Any, company: str) -> Metadata | None:
        meta = item.metadata if isinstance(item, msgspec.Struct) else item.get("metadata")
        if not isinstance(meta, dict):
            return meta
        try:
            return msgspec.convert(meta, type=Metadata)
        except msgspec.ValidationError as exc:
            raise MalformedResponse(f"GET {path} answered unusable metadata ({exc})", connection=self.connection,
                                    company=company, field="metadata") from None

    def _pages(self, tenant: _Tenant, path: str, params: Mapping[str, Any], company: str,
               decoder: Callable[[bytes], Any] | None = None, count: Count | None = None) -> Iterator[list]:
        """Each page's items: ``pageSize`` capped by ``metadata.maxPageSize`` from the first page.

        With ``metadata.totalCount`` every later page number is known, so up to
        ``workers`` pages are requested at once (latency overlaps, the shared
        rate budget still holds); without it, pages are walked until a short one.
        """
        def fetch(number: int, size: int) -> Page:
            page = self._get(tenant, path, {**params, "pageNumber": number, "pageSize": size}, company, decoder)
            if not isinstance(page, list):
                raise MalformedResponse(f"GET {path} answered no list", connection=self.connection,
                                        company=company)
            if not page:
                return Page(page, total=0)  # an empty list is a count of its own, where no item carries one
            meta = self._metadata(path, page[0], company) if number == 1 else None
            return Page(page, meta.totalCount if meta else None, cap=meta.maxPageSize if meta else None)

        where = Where("Visma.net", f"GET {path}", self.connection, company)
        return numbered_pages(fetch, size=self.page_size, where=where, parameter="pageNumber",
                              workers=self.workers, count=count)

    # -- per company ----------------------------------------------------------------------------

    def _context(self, tenant: _Tenant) -> CompanyInfo:
        """The one company a tenant's token reaches."""
        contexts = self._get(tenant, self.context_path, None, None)
        if isinstance(contexts, list) and len(contexts) != 1:
            raise MalformedResponse(
                f"GET {self.context_path} answered {len(contexts)} companies for tenant {tenant.tenant_id}, "
                "where a company tenant's token reaches exactly one: list company tenant ids in option "
                "'tenant_id'", connection=self.connection, field="tenant_id")
        try:
            [context] = contexts
            return CompanyInfo(str(context["id"]), context.get("name") or str(context["id"]))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise MalformedResponse(f"GET {self.context_path} answered an unexpected shape",
                                    connection=self.connection, field="id") from None

    def _tenant_of(self, company: str) -> _Tenant:
        """The tenant whose token reaches ``company``, looked up once per connector."""
        with self._lock:
            tenant = self._company_tenant.get(company)
        if tenant is None:
            self.list_companies()
            with self._lock:
                tenant = self._company_tenant.get(company)
        if tenant is None:
            raise ConnectorError(
                f"none of the tenants in option 'tenant_id' reaches this company (they reach "
                f"{', '.join(sorted(self._company_tenant))}): add the company's own tenant id to option "
                "'tenant_id'", connection=self.connection, company=company, field="tenant_id")
        return tenant

    def _ledger(self, tenant: _Tenant, company: str) -> str:
        """The company's actual ledger (option ``ledger``, else the first ``Actual`` one)."""
        if self.ledger:
            return self.ledger
        with self._lock:
            known = self._ledgers.get(company)
        if known is None:
            ledgers = [item for page in self._pages(tenant, "/v1/ledger", {}, company) for item in page]
            actual = [item["number"] for item in ledgers if item.get("balanceType") == "Actual"]
            if not actual:
                raise ConnectorError("the company has no ledger of balanceType Actual (set option 'ledger')",
                                     connection=self.connection, company=company, field="ledger")
            with self._lock:
                known = self._ledgers.setdefault(company, actual[0])
        return known

    def _financial_periods(self, tenant: _Tenant, company: str) -> list[Period]:
        """The company's financial periods (``GET /v1/financialPeriod`` takes no paging parameters)."""
        with self._lock:
            known = self._periods.get(company)
        if known is None:
            try:
                known = parse_periods(self._get(tenant, PERIODS_PATH, None, company))
            except (msgspec.ValidationError, ValueError) as exc:
                raise MalformedResponse(f"GET {PERIODS_PATH} answered unusable periods ({exc})",
                                        connection=self.connection, company=company, field="period") from None
            with self._lock:
                known = self._periods.setdefault(company, known)
        return known

    # -- the connector protocol ---------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """One company per tenant of option ``tenant_id``."""
        if not self.context_path:
            return [CompanyInfo(t, t) for t in self._tenants]
        found = [(self._context(tenant), tenant) for tenant in self._tenants.values()]
        with self._lock:
            self._company_tenant.update((company.erp_id, tenant) for company, tenant in found)
        return [company for company, _ in found]

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        path, mapper = DIMENSION_SOURCES[dimension]
        for page in self._pages(self._tenant_of(erp_id), path, {}, erp_id):
            try:
                yield [mapper(item) for item in page]
            except (KeyError, TypeError) as exc:
                raise MalformedResponse(f"GET {path}: an item lacks {exc}", connection=self.connection,
                                        company=erp_id, field=str(exc).strip("'")) from None

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Released GL lines dated inside ``window``; the next pages are fetched while this one maps."""
        tally = Tally("metadata.totalCount", exact=True)
        return self._last_count.track(self._postings(erp_id, window, tally), tally.result)

    def source_count(self) -> SourceCount:
        """``metadata.totalCount`` of the first page's first line; 0 when no financial period overlaps."""
        return self._last_count.value

    def _postings(self, erp_id: str, window: Window, count: Count) -> Iterator[Batch]:
        tenant = self._tenant_of(erp_id)
        periods = period_range(self._financial_periods(tenant, erp_id), window, self.period_margin)
        if periods is None:
            count(0)  # no financial period overlaps the window, so no line can be dated in it
            return
        last = window.end - timedelta(days=1)
        params = {"ledger": self._ledger(tenant, erp_id), "fromPeriod": periods[0], "toPeriod": periods[1],
                  "fromDate": window.start.isoformat(), "toDate": last.isoformat()}
        pages = prefetch(self._pages(tenant, GL_PATH, params, erp_id, decode_gl_lines, count), depth=2)
        try:
            for page in pages:
                try:
                    yield map_gl_lines(page, self.currency)
                except (TypeError, ValueError) as exc:
                    raise MalformedResponse(f"GET {GL_PATH}: unexpected line ({type(exc).__name__}: {exc})",
                                            connection=self.connection, company=erp_id) from None
        finally:
            pages.close()

    def close(self) -> None:
        for tenant in self._tenants.values():
            tenant.http.close()
