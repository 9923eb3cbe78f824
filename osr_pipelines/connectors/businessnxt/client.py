"""The Business NXT GraphQL connector: group reporting imports and direct (live) reports.

Auth: Visma Connect client credentials (``client_id``, ``client_secret``, the
service scope, and ``tenant_id`` only when the option is set) at
``token_url``, through the shared :class:`ClientCredentials`, which renews the
token ahead of its expiry; requests go to the service endpoint with
``Authorization: Bearer``. Business NXT answers a refused token with HTTP 401
and an HTML page, and every other failure with HTTP 200 and ``errors``.

Companies are ``availableCompanies`` (``vismaNetCompanyId`` is the number
``useCompany(no:)`` takes). Postings are ``generalLedgerTransaction`` under
``useCompany``, filtered on ``voucherDate`` (an integer ``yyyymmdd``, so the
half-open window ``[start, end)`` is ``_gte start`` and ``_lte end - 1 day``)
and paged with ``first``/``after`` while ``pageInfo.hasNextPage``; the first
page's ``totalCount`` is the count the import is checked against. The nightly
adds postings changed since the last run through ``changedTimestamp``
(:meth:`stream_postings_created_since`). Dimensions are ``generalLedgerAccount``,
the org-unit tables chosen as departments and projects, and ``associate``.

Direct reports ask one grouped query (:meth:`balances`): debit and credit sums
of ``postedAmountDomestic`` per account and year before the first period, and
per account, year and period after, so Business NXT sums and no posting
crosses the network.

Limits: 600 requests a minute per token, kept by a limiter shared through a
state file by every run with the same client id (:mod:`~osr_pipelines.connectors.ratelimit`),
and 60 concurrent requests per company, kept by lock-file slots
(:mod:`.slots`). Rows are mapped by the one Visma Business model
(:mod:`~osr_pipelines.connectors.visma_business.model`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlsplit

from osr_pipelines.connectors.base import (
    DIMENSION_COLUMNS,
    BalanceRow,
    Batch,
    CompanyInfo,
    ConnectorError,
    CredentialLabels,
    CredentialsRejected,
    MalformedResponse,
    SourceCount,
    Window,
    map_page,
)
from osr_pipelines.connectors.businessnxt import queries
from osr_pipelines.connectors.businessnxt.facts import CREDENTIALS, DEFAULT_BASE_URL, DEFAULT_SCOPE, DEFAULT_TOKEN_URL
from osr_pipelines.connectors.businessnxt.slots import ConcurrencySlots
from osr_pipelines.connectors.graphql import GraphQLClient, GraphQLErrors
from osr_pipelines.connectors.http import HttpClient, HttpStatusError, prefetch
from osr_pipelines.connectors.oauth import ClientCredentials
from osr_pipelines.connectors.paging import LastCount, Page, Tally, Where, cursor_pages
from osr_pipelines.connectors.ratelimit import SharedRateLimiter, state_path
from osr_pipelines.connectors.visma_business.model import dimension_mapper, posting_mapper
from osr_pipelines.connectors.visma_business.org_units import org_unit_roles

ERP = "Business NXT"


def _day(d: date) -> int:
    return d.year * 10_000 + d.month * 100 + d.day


class _Bearer:
    """The HTTP client as :class:`GraphQLClient` uses it, each request carrying the Visma Connect token."""

    def __init__(self, http: HttpClient, auth: ClientCredentials) -> None:
        self.connection = http.connection
        self.backoff = http.backoff
        self.sleep = http.sleep
        self._auth = auth

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._auth.request_json(method, path, **kwargs)


class BusinessNxtConnector:
    """One Visma Connect service client on Business NXT; its companies are those the service user reaches.

    Options (see ``facts.OPTIONS``): ``base_url``, ``token_url``, ``scope``,
    ``tenant_id``, ``customer`` (only that Visma.net customer's companies),
    ``page_size``, ``department_org_unit``/``project_org_unit``/``free_org_units``
    (which org units hold departments, projects and free dimensions),
    ``currency`` (the companies' own currency), ``group_limit``,
    ``requests_per_minute``, ``concurrent_requests``, ``timeout``.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env)
        self._label.require(connection, credentials, CREDENTIALS)
        self.roles = org_unit_roles(connection, options)
        self.page_size = int(options.get("page_size", 1000))
        self.customer = options.get("customer")
        self.domestic = options.get("currency", "NOK")
        self.group_limit = int(options.get("group_limit", 100_000))
        base = urlsplit(options.get("base_url", DEFAULT_BASE_URL))
        token_url = options.get("token_url", DEFAULT_TOKEN_URL)
        per_minute = int(options.get("requests_per_minute", 600))
        burst = math.ceil(per_minute / 60)  # the minute's budget spread evenly: no burst trips the gateway
        limiter = SharedRateLimiter(state_path(None, "business-nxt", f"{token_url}|{credentials['client_id']}"),
                                    limit=burst, period=burst * 60 / per_minute, sleep=sleep)
        self._http = HttpClient(f"{base.scheme}://{base.netloc}", connection=connection, limiter=limiter,
                                sleep=sleep, timeout=float(options.get("timeout", 120)))
        form = {"scope": options.get("scope", DEFAULT_SCOPE), "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"]}
        if options.get("tenant_id"):
            form["tenant_id"] = options["tenant_id"]
        auth = ClientCredentials(self._http, token_url, rejected=self._token_refused, form=form, clock=clock)
        self._gql = GraphQLClient(cast(HttpClient, _Bearer(self._http, auth)), base.path or "/",
                                  retryable=lambda _: False)
        self._slots = ConcurrencySlots(f"{base.netloc}{base.path}", int(options.get("concurrent_requests", 60)),
                                       sleep=sleep)
        self._last_count = LastCount()

    # -- errors -------------------------------------------------------------------------------

    def _token_refused(self, err: HttpStatusError) -> ConnectorError:
        code = err.payload.get("error") if isinstance(err.payload, dict) else None
        if code == "invalid_scope":
            return ConnectorError(
                f"Visma Connect refused the scope of option 'scope' (HTTP {err.status}, invalid_scope): add the "
                "integration 'Business NXT GraphQL Service API' to the application with that scope",
                connection=self.connection, field="scope")
        labels = " or the ".join(self._label(f) for f in CREDENTIALS)
        return CredentialsRejected(f"Visma Connect rejected the {labels} (HTTP {err.status}"
                                   f"{f', {code}' if code else ''})", connection=self.connection,
                                   field="client_secret")

    def _failure(self, err: GraphQLErrors, what: str, company: str | None) -> ConnectorError:
        """Business NXT's errors in the connector's terms, naming connection, company and field."""
        if err.status in (401, 403):
            return CredentialsRejected(
                f"Business NXT refused a fresh token on {what} (HTTP {err.status}): the client "
                f"({self._label('client_id')}) needs the Business NXT GraphQL Service API integration approved "
                "and a Business NXT user registered to impersonate the service",
                connection=self.connection, company=company, field="client_id")
        unknown = next((e.unknown_field for e in err.errors if e.unknown_field), None)
        if unknown is not None:
            return ConnectorError(f"Business NXT's schema rejected the query of {what}: {err.reason}",
                                  connection=self.connection, company=company, field=unknown)
        where = next((e.path for e in err.errors if e.path), ())
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")
        return ConnectorError(f"Business NXT answered {what} with errors: {err.reason}"
                              + (f" (at {at})" if at else ""), connection=self.connection, company=company,
                              field=next((p for p in reversed(where) if isinstance(p, str)), None))

    def _execute(self, what: str, query: str, variables: Mapping[str, Any], company: str | None) -> Any:
        try:
            with self._slots.held(company):
                data = self._gql.execute(query, variables, company=company)
        except GraphQLErrors as err:
            raise self._failure(err, what, company) from None
        if not isinstance(data, dict):
            raise MalformedResponse(f"{what} answered without data", connection=self.connection, company=company)
        return data

    def _cid(self, erp_id: str) -> int:
        """A company's ``vismaNetCompanyId``: digits, as ``useCompany(no:)`` takes an integer."""
        if not erp_id.isdigit() or not erp_id.isascii():
            raise ConnectorError(f"a Business NXT company id is the company number (digits), not {erp_id!r}; "
                                 "list the connection's companies to see them", connection=self.connection,
                                 company=erp_id, field="company")
        return int(erp_id)

    # -- paging ---------------------------------------------------------------------------------

    def _pages(self, what: str, query: str, variables: Mapping[str, Any], company: str | None,
               root: tuple[str, ...], count: Tally | None = None,
               first_query: str | None = None) -> Iterator[list[dict]]:
        """``items`` of each page of the table at path ``root`` of ``data``, while ``hasNextPage``;
        ``first_query`` asks the first page (with ``totalCount``, say), ``query`` the others."""
        def fetch(after: str | None) -> Page:
            data = self._execute(what, first_query if after is None and first_query else query,
                                 {**variables, "first": self.page_size, "after": after}, company)
            try:
                for key in root:
                    data = data[key]
                info = data["pageInfo"]
                return Page(data["items"], total=data.get("totalCount"), next=info.get("endCursor"),
                            more=bool(info["hasNextPage"]))
            except (KeyError, TypeError):
                raise MalformedResponse(f"{what} answered without {'.'.join(root)}.items/pageInfo",
                                        connection=self.connection, company=company,
                                        field=".".join(root)) from None

        return cursor_pages(fetch, where=Where(ERP, what, self.connection, company), count=count)

    # -- the connector protocol -------------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The companies ``availableCompanies`` lists (those of option ``customer`` when it is set), each
        noting its Visma.net customer id, which ``osr company available`` shows."""
        found = []
        for items in self._pages("availableCompanies", queries.COMPANIES, {}, None, ("availableCompanies",)):
            for item in items:
                try:
                    number, customer = item["vismaNetCompanyId"], item.get("vismaNetCustomerId")
                except (KeyError, TypeError):
                    raise MalformedResponse("availableCompanies answered an item without vismaNetCompanyId",
                                            connection=self.connection, field="vismaNetCompanyId") from None
                if self.customer is None or str(customer) == self.customer:
                    found.append(CompanyInfo(str(number), item.get("name") or str(number),
                                             note=f"Visma.net customer {customer}" if customer else ""))
        return sorted(found, key=lambda c: int(c.erp_id))

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        cid = self._cid(erp_id)
        if dimension == "accounts":
            query, root = queries.ACCOUNTS, "generalLedgerAccount"
        elif dimension in ("customers", "suppliers"):
            query, root = queries.ASSOCIATES, "associate"
        else:
            unit = self.roles.holding(dimension)
            if unit is None:  # no org unit holds this dimension for this connection
                return
            query, root = queries.ORG_UNIT_TABLES[unit], f"orgUnit{unit}"
        mapper = dimension_mapper(dimension, "api")
        for items in self._pages(root, query, {"cid": cid}, erp_id, ("useCompany", root)):
            rows = map_page(items, lambda page: [r for r in map(mapper, page) if r is not None],
                            connection=self.connection, company=erp_id)
            if rows:
                yield rows

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Postings dated inside ``window``, the next page fetched while this one maps."""
        tally = Tally("totalCount", exact=True)
        return self._last_count.track(self._postings(erp_id, window, tally, None), tally.result)

    def stream_postings_created_since(self, erp_id: str, window: Window, since: datetime) -> Iterator[Batch]:
        """Postings dated inside ``window`` whose ``changedTimestamp`` is from ``since`` on.

        Business NXT's timestamps are the server's local time without a zone,
        written ``yyyy-MM-dd HH:mm:ss[.nnnnnnn]``; ``since`` (UTC) is sent in
        that form as it is, which for a server at or east of UTC (Norway's)
        asks for a little more than needed, never less. Rows last changed
        before October 2024 carry no timestamp (null) and are not found here.
        """
        return self._postings(erp_id, window, None, since)

    def _postings(self, erp_id: str, window: Window, tally: Tally | None, since: datetime | None) -> Iterator[Batch]:
        cid = self._cid(erp_id)
        variables: dict[str, Any] = {"cid": cid, "from": _day(window.start),
                                     "to": _day(window.end - timedelta(days=1))}
        if since is not None:
            utc = since.astimezone(UTC) if since.tzinfo else since
            variables["since"] = f"{utc:%Y-%m-%d %H:%M:%S}"  # the documented form: a space, no zone
        what = f"generalLedgerTransaction {window}"
        mapper = posting_mapper("api", self.roles, self.domestic)
        query = queries.postings(since=since is not None)
        pages = prefetch(self._pages(what, query, variables, erp_id, ("useCompany", "generalLedgerTransaction"),
                                     tally, queries.postings(since=since is not None, counted=tally is not None)),
                         depth=2)
        try:
            for items in pages:
                yield map_page(items, lambda page: [mapper(item) for item in page],
                               connection=self.connection, company=erp_id)
        finally:
            pages.close()

    def source_count(self) -> SourceCount:
        """``totalCount`` of the last completed read's first page."""
        return self._last_count.value

    # -- direct reports -------------------------------------------------------------------------

    def balances(self, erp_id: str, from_period: int, to_period: int) -> list[BalanceRow]:
        """Debit and credit per account and period, summed by Business NXT (one grouped request).

        Periods are Visma Business accounting periods (``year``, ``period``),
        read as calendar months; everything before ``from_period`` comes back
        per ``year`` as period ``YYYY00``.
        """
        cid = self._cid(erp_id)
        start = date(from_period // 100, from_period % 100, 1)
        year, month = divmod(to_period, 100)
        after = date(year + month // 12, month % 12 + 1, 1)
        what = f"generalLedgerTransaction groupBy {from_period}-{to_period}"
        data = self._execute(what, queries.BALANCES, {
            "cid": cid, "limit": self.group_limit, "before": _day(start - timedelta(days=1)),
            "from": _day(start), "to": _day(after - timedelta(days=1))}, erp_id)
        totals: dict[tuple[str, int], list[Decimal]] = {}
        for alias, side, by_period in (("debitBefore", 0, False), ("creditBefore", 1, False),
                                       ("debit", 0, True), ("credit", 1, True)):
            try:
                items = data["useCompany"][alias]["items"]
                if len(items) >= self.group_limit:
                    raise ConnectorError(
                        f"{what} answered {len(items)} groups, the most option 'group_limit' allows: the report "
                        "would be cut short; raise group_limit", connection=self.connection, company=erp_id,
                        field="group_limit")
                for item in items:
                    period = int(item["year"]) * 100 + (int(item["period"]) if by_period else 0)
                    amount = Decimal(str(item["aggregates"]["sum"]["postedAmountDomestic"] or 0))
                    key = (str(int(item["accountNo"])), period)
                    totals.setdefault(key, [Decimal(0), Decimal(0)])[side] += abs(amount)
            except (KeyError, TypeError, ValueError):
                raise MalformedResponse(f"{what} answered {alias} without items of accountNo, year, period and "
                                        "aggregates.sum.postedAmountDomestic", connection=self.connection,
                                        company=erp_id, field=alias) from None
        return [(account, period, debit, credit) for (account, period), (debit, credit) in sorted(totals.items())]

    def currency(self, erp_id: str) -> str:
        """The companies' own currency: option ``currency`` (no public field of the API names it)."""
        self._cid(erp_id)
        return self.domestic

    def close(self) -> None:
        self._http.close()
