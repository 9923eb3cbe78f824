"""The Visma.net ERP (Financials) connector.

Auth: Visma Connect client credentials (``POST /connect/token`` with
``client_id``, ``client_secret``, ``tenant_id`` and the read scope), shared
through :class:`ClientCredentials` and renewed ahead of expiry. The client id
and secret are credentials (env vars); the tenant id is an option: it names
the Visma.net company tenant, which is not a secret. A *customer* tenant id
also gets a token, but the API then answers 401: after one renewal the
connector says so, naming the ``tenant_id`` option.

Companies: ``GET /resources/v1/context`` lists the companies (contexts) the
token reaches; each later request names one in ``ipp-company-id``.

Postings come from ``GET /v1/GeneralLedgerTransactions`` (screen GL404000)
rather than from journal transactions, because it is the only endpoint that
filters by *date* on the server: ``fromDate``/``toDate`` (both inclusive) give
exactly the half-open window ``[start, end)`` as ``[start, end - 1 day]``.
``v2/journaltransaction`` selects whole batches by ``periodId`` (the post
period, which need not be the period of the date, so windows would miss or
gain lines and need client-side filtering of full periods), includes batches
on hold or unposted, and pages lines so that a batch can span pages; by
``lastModifiedDateTime`` it finds changed batches but never deleted ones, so
it cannot replace a window. GL transactions are released ledger lines, one
item per line. The mandatory ``fromPeriod``/``toPeriod`` are widened by
``period_margin`` months (default 12) around the window; the dates do the
exact cut. Periods are numbered within the *financial* year (``YYYYPP``, the
year being the financial year's label, ``PP`` up to 13 for year-end
adjustments), so a year starting in May puts 15 June 2025 in ``202502`` or
``202602``: twelve months either side of the calendar month covers every
such numbering, where one month would silently miss lines.

Paging: ``pageNumber`` (1-based) and ``pageSize`` are mandatory; the page
size is capped by ``metadata.maxPageSize`` from the first page's items, and
``metadata.totalCount`` names every later page, so up to ``workers`` (option,
default 4) are requested at once: with pages of at most a few thousand lines,
a full import is otherwise a long series of round trips.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
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
    Window,
)
from osr_pipelines.connectors.http import (
    HttpClient,
    HttpStatusError,
    RateBudget,
    RateLimitHeaders,
    fetch_ahead,
    prefetch,
)
from osr_pipelines.connectors.oauth import ClientCredentials
from osr_pipelines.connectors.vismanet.mapping import DIMENSION_SOURCES, Metadata, decode_gl_lines, map_gl_lines

DEFAULT_BASE_URL = "https://api.finance.visma.net"
DEFAULT_TOKEN_URL = "https://connect.visma.com/connect/token"
DEFAULT_SCOPE = "vismanet_erp_service_api:read"
CREDENTIALS = ("client_id", "client_secret")
RATE_HEADERS = RateLimitHeaders(remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset")
GL_PATH = "/v1/GeneralLedgerTransactions"


def _period(day: date, months: int) -> str:
    """The ``YYYYPP`` period ``months`` months after the one of ``day`` (monthly periods)."""
    index = day.year * 12 + day.month - 1 + months
    return f"{index // 12}{index % 12 + 1:02d}"


class VismaNetConnector:
    """One Visma Connect service client, on one company tenant.

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
        self.tenant_id = options.get("tenant_id", "")
        if not self.tenant_id:
            raise ConnectorError("option 'tenant_id' (the Visma.net company tenant id) is missing",
                                 connection=connection, field="tenant_id")
        self.page_size = int(options.get("page_size", 10_000))
        self.period_margin = int(options.get("period_margin", 12))
        self.workers = int(options.get("workers", 4))
        self.ledger = options.get("ledger") or None
        self.currency = options.get("currency", "NOK")
        self._http = HttpClient(
            options.get("base_url", DEFAULT_BASE_URL), connection=connection, rate_headers=RATE_HEADERS,
            limiter=RateBudget(RATE_HEADERS, sleep, reserve=int(options.get("rate_reserve", 0))), sleep=sleep,
            timeout=float(options.get("timeout", 120)), max_connections=self.workers + 1)
        self._auth = ClientCredentials(
            self._http, options.get("token_url", DEFAULT_TOKEN_URL), rejected=self._token_refused,
            form={"scope": options.get("scope", DEFAULT_SCOPE), "client_id": credentials["client_id"],
                  "client_secret": credentials["client_secret"], "tenant_id": self.tenant_id},
            clock=clock)
        self._ledgers: dict[str, str] = {}
        self._lock = threading.Lock()

    # -- errors -----------------------------------------------------------------------------

    def _token_refused(self, err: HttpStatusError) -> ConnectorError:
        code = err.payload.get("error") if isinstance(err.payload, dict) else None
        if err.status in (400, 401) and code in (None, "invalid_client", "unauthorized_client"):
            labels = " or the ".join(self._label(f) for f in CREDENTIALS)
            return CredentialsRejected(f"Visma Connect rejected the {labels} (HTTP {err.status}, {code})",
                                       connection=self.connection, field="client_secret")
        return ConnectorError(f"Visma Connect refused a token for option 'tenant_id' = {self.tenant_id} "
                              f"(HTTP {err.status}, {code})", connection=self.connection, field="tenant_id")

    def _failure(self, err: HttpStatusError, what: str) -> ConnectorError:
        if err.status == 401:
            return CredentialsRejected(
                f"the API refused a fresh token on {what} (HTTP 401): option 'tenant_id' ({self.tenant_id}) "
                "must be the company tenant id, not the customer tenant id, which authenticates but may not "
                "call the API", connection=self.connection, company=err.company, field="tenant_id")
        if err.status == 403:
            return CredentialsRejected(
                f"no access on {what} (HTTP 403): grant the client ({self._label('client_id')}) read access "
                "to this company", connection=self.connection, company=err.company, field="client_id")
        message = err.payload.get("ExceptionMessage") if isinstance(err.payload, dict) else None
        return ConnectorError(f"{what} answered HTTP {err.status}" + (f": {message}" if message else ""),
                              connection=self.connection, company=err.company)

    # -- requests -----------------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None, company: str | None,
             decoder: Callable[[bytes], Any] | None = None) -> Any:
        headers = {"ipp-company-id": company} if company is not None else None
        try:
            return self._auth.request_json("GET", path, params=params, company=company, headers=headers,
                                           decoder=decoder)
        except HttpStatusError as err:
            raise self._failure(err, f"GET {path}") from None

    def _page(self, path: str, params: Mapping[str, Any], number: int, size: int, company: str,
              decoder: Callable[[bytes], Any] | None) -> list:
        page = self._get(path, {**params, "pageNumber": number, "pageSize": size}, company, decoder)
        if not isinstance(page, list):
            raise MalformedResponse(f"GET {path} answered no list", connection=self.connection, company=company)
        return page

    def _metadata(self, path: str, item: Any, company: str) -> Metadata | None:
        meta = item.metadata if isinstance(item, msgspec.Struct) else item.get("metadata")
        if not isinstance(meta, dict):
            return meta
        try:
            return msgspec.convert(meta, type=Metadata)
        except msgspec.ValidationError as exc:
            raise MalformedResponse(f"GET {path} answered unusable metadata ({exc})", connection=self.connection,
                                    company=company, field="metadata") from None

    def _pages(self, path: str, params: Mapping[str, Any], company: str,
               decoder: Callable[[bytes], Any] | None = None) -> Iterator[list]:
        """Each page's items: ``pageSize`` capped by ``metadata.maxPageSize`` from the first page.

        With ``metadata.totalCount`` every later page number is known, so up to
        ``workers`` pages are requested at once (latency overlaps, the shared
        rate budget still holds); without it, pages are walked until a short one.
        """
        size = self.page_size
        page = self._page(path, params, 1, size, company, decoder)
        if not page:
            return
        meta = self._metadata(path, page[0], company)
        if meta is not None and meta.maxPageSize and meta.maxPageSize < size:
            size = meta.maxPageSize  # the server already cut page 1 to this size
        elif meta is not None and meta.totalCount is not None and len(page) < min(size, meta.totalCount):
            size = len(page)  # cut to a cap it did not announce: number the later pages by what came
        yield page
        if meta is not None and meta.totalCount is not None:
            later = range(2, -(-meta.totalCount // size) + 1)
            yield from fetch_ahead((self._lazy_page(path, params, n, size, company, decoder) for n in later),
                                   workers=self.workers)
            return
        size, number = min(size, len(page)), 1
        while len(page) >= size:
            number += 1
            page = self._page(path, params, number, size, company, decoder)
            if page:
                yield page

    def _lazy_page(self, path: str, params: Mapping[str, Any], number: int, size: int, company: str,
                   decoder: Callable[[bytes], Any] | None) -> Iterator[list]:
        yield self._page(path, params, number, size, company, decoder)

    def _ledger(self, company: str) -> str:
        """The company's actual ledger (option ``ledger``, else the first ``Actual`` one)."""
        if self.ledger:
            return self.ledger
        with self._lock:
            if company not in self._ledgers:
                ledgers = [item for page in self._pages("/v1/ledger", {}, company) for item in page]
                actual = [item["number"] for item in ledgers if item.get("balanceType") == "Actual"]
                if not actual:
                    raise ConnectorError("the company has no ledger of balanceType Actual (set option 'ledger')",
                                         connection=self.connection, company=company, field="ledger")
                self._ledgers[company] = actual[0]
            return self._ledgers[company]

    # -- the connector protocol ---------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The companies (contexts) the token of this tenant reaches."""
        contexts = self._get("/resources/v1/context", None, None)
        try:
            return [CompanyInfo(str(c["id"]), c.get("name") or str(c["id"])) for c in contexts]
        except (KeyError, TypeError):
            raise MalformedResponse("GET /resources/v1/context answered an unexpected shape",
                                    connection=self.connection, field="id") from None

    def stream_dimension(self, company_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        path, mapper = DIMENSION_SOURCES[dimension]
        for page in self._pages(path, {}, company_id):
            try:
                yield [mapper(item) for item in page]
            except (KeyError, TypeError) as exc:
                raise MalformedResponse(f"GET {path}: an item lacks {exc}", connection=self.connection,
                                        company=company_id, field=str(exc).strip("'")) from None

    def stream_postings(self, company_id: str, window: Window) -> Iterator[Batch]:
        """Released GL lines dated inside ``window``; the next pages are fetched while this one maps."""
        last = window.end - timedelta(days=1)
        params = {"ledger": self._ledger(company_id),
                  "fromPeriod": _period(window.start, -self.period_margin),
                  "toPeriod": _period(last, self.period_margin),
                  "fromDate": window.start.isoformat(), "toDate": last.isoformat()}
        pages = prefetch(self._pages(GL_PATH, params, company_id, decode_gl_lines), depth=2)
        try:
            for page in pages:
                try:
                    yield map_gl_lines(page, self.currency)
                except (TypeError, ValueError) as exc:
                    raise MalformedResponse(f"GET {GL_PATH}: unexpected line ({type(exc).__name__}: {exc})",
                                            connection=self.connection, company=company_id) from None
        finally:
            pages.close()

    def close(self) -> None:
        self._http.close()
