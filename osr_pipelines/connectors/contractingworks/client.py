"""The Contracting Works connector: project economics over its GraphQL client API.

Auth: Devinco Connect issues a bearer token for the integration user (subject
id and API key from Contracting Works support) and the tenant
(``POST /Token/GenerateAccessTokenAsJson`` with ``{subjectId, apiKey, clientId,
tenantId}``, answered ``{accessToken, validFromUTC, validToUTC}``). Tokens live
up to 24 hours; one is renewed ten minutes before the ``validToUTC`` it came
with, and once more if the API answers 401.

Queries go to ``<graphql_url>/client/<tenant>/graphql``. Every root set is
paged with ``take``/``skip`` in id order until a short page; the first page's
``totalCount`` is the count an import is checked against. Filters are the API's
string expressions (``path >= 'value' & ...``).

Contracting Works keeps no general ledger (the accounting system does), so
:meth:`stream_postings` yields nothing. What it has are project economics:
invoice lines (revenue) and supplier invoice lines (cost) per project, read as
``project_transactions``, and budget line periods, read as ``budgets``
(:class:`~osr_pipelines.connectors.base.ProjectEconomics`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
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
    account_type,
    map_page,
)
from osr_pipelines.connectors.contractingworks import queries
from osr_pipelines.connectors.contractingworks.facts import CREDENTIALS, DEFAULT_AUTH_URL, DEFAULT_GRAPHQL_URL
from osr_pipelines.connectors.graphql import GraphQLClient, GraphQLErrors
from osr_pipelines.connectors.http import HttpClient, HttpStatusError
from osr_pipelines.connectors.paging import LastCount, Page, Tally, Where, offset_pages

ERP = "Contracting Works"
TOKEN_PATH = "/Token/GenerateAccessTokenAsJson"
#: Devinco Connect's tokens last up to 24 hours; a new one is asked for this long before the old one ends.
RENEW_BEFORE = 600.0
LIFETIME = 24 * 3600.0
#: Where the company name is kept, for the error when it is empty.
COMPANY_NAME_HELP = ("fill in the company name under company details in Contracting Works (the company's own "
                     "settings, as an administrator), then list the companies again")


def quoted(value: str) -> str:
    """A value in a filter expression: single-quoted, quotes inside doubled."""
    return "'" + value.replace("'", "''") + "'"


def window_filter(path: str, window: Window) -> str:
    """``path`` inside the half-open ``window``: from its first day, before the day after it."""
    return f"{path} >= {quoted(window.start.isoformat())} & {path} < {quoted(window.end.isoformat())}"


def changed_filter(since: datetime) -> str:
    """Rows created or changed from ``since`` on: ``sys_UpdatedDateUTC`` is set on both (UTC)."""
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"sys_UpdatedDateUTC >= {quoted(stamp)}"


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _month(day: date) -> int:
    return day.year * 100 + day.month


def _amount(value: object) -> float:
    """An amount rounded to cents, as the loader takes it (the API sends decimals as JSON numbers)."""
    return float(Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01")))


class DevincoToken:
    """The Devinco Connect bearer token of one integration user and tenant, renewed before it ends."""

    def __init__(self, http: HttpClient, body: Mapping[str, Any], rejected: Callable[[HttpStatusError], Exception],
                 clock: Callable[[], float]) -> None:
        self._http, self._body, self._rejected, self._clock = http, dict(body), rejected, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self, stale: str | None = None) -> str:
        with self._lock:
            if self._token is None or self._token == stale or self._clock() >= self._renew_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def _fetch(self) -> None:
        try:
            body = self._http.request_json("POST", TOKEN_PATH, json=self._body)
        except HttpStatusError as err:
            raise self._rejected(err) from None
        try:
            token = str(body["accessToken"])
            valid_from = datetime.fromisoformat(str(body["validFromUTC"]).replace("Z", "+00:00"))
            valid_to = datetime.fromisoformat(str(body["validToUTC"]).replace("Z", "+00:00"))
        except (TypeError, KeyError, ValueError):
            raise MalformedResponse("Devinco Connect answered without accessToken/validFromUTC/validToUTC",
                                    connection=self._http.connection, field="accessToken") from None
        lifetime = min(max((valid_to - valid_from).total_seconds(), 0.0), LIFETIME)
        self._token, self._renew_at = token, self._clock() + max(lifetime - RENEW_BEFORE, lifetime / 2)


class ContractingWorksConnector:
    """One integration user on one Contracting Works tenant (the client in its URL)."""

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env, {"subject_id": "subject id", "api_key": "API key"})
        self._label.require(connection, credentials, CREDENTIALS)
        tenant = options.get("tenant")
        if not tenant:
            raise ConnectorError("option 'tenant' is missing: the tenant id in the Contracting Works client's "
                                 "URL (such as 10355-vismaosr)", connection=connection, field="tenant")
        self.tenant = tenant
        self.page_size = int(options.get("page_size", 500))
        timeout = float(options.get("timeout", 120))
        self._auth_http = HttpClient(options.get("auth_url", DEFAULT_AUTH_URL), connection=connection, sleep=sleep,
                                     timeout=timeout, url_option="auth_url")
        self._http = HttpClient(options.get("graphql_url", DEFAULT_GRAPHQL_URL), connection=connection, sleep=sleep,
                                timeout=timeout, url_option="graphql_url")
        # clientId is an int32 in Devinco Connect's GenerateToken: the tenant id's leading number
        body = {"subjectId": credentials["subject_id"], "apiKey": credentials["api_key"],
                "clientId": int(tenant.split("-", 1)[0]), "tenantId": tenant}
        self._token = DevincoToken(self._auth_http, body, self._token_refused, clock)
        self._gql = GraphQLClient(self._http, f"/client/{tenant}/graphql", retryable=lambda _: False)
        self._last_count = LastCount()
        self._project_count = SourceCount(None, "totalCount", False, "no project transactions were read")

    # -- errors and requests ----------------------------------------------------------------------

    def _token_refused(self, err: HttpStatusError) -> ConnectorError:
        labels = " or the ".join(self._label(f) for f in CREDENTIALS)
        return CredentialsRejected(f"Devinco Connect rejected the {labels} for tenant '{self.tenant}' "
                                   f"(HTTP {err.status}); both come from Contracting Works support",
                                   connection=self.connection, field="api_key")

    def _execute(self, what: str, query: str, variables: Mapping[str, Any], company: str | None) -> Any:
        token = self._token.get()
        for attempt in (1, 2):
            self._gql.headers = {"Authorization": f"Bearer {token}"}
            try:
                data = self._gql.execute(query, variables, company=company)
                break
            except GraphQLErrors as err:
                if err.status == 401 and attempt == 1:
                    token = self._token.get(stale=token)
                    continue
                if err.status in (401, 403):
                    raise CredentialsRejected(
                        f"Contracting Works refused a fresh token on {what} (HTTP {err.status}): the integration "
                        f"user ({self._label('subject_id')}) has no access to tenant '{self.tenant}'",
                        connection=self.connection, company=company, field="subject_id") from None
                raise ConnectorError(f"Contracting Works answered {what} with errors: {err.reason}",
                                     connection=self.connection, company=company) from None
        if not isinstance(data, dict):
            raise MalformedResponse(f"{what} answered without data", connection=self.connection, company=company)
        return data

    def _pages(self, root: str, query: str, company: str | None, filter_: str | None = None,
               count: Tally | None = None) -> Iterator[list[dict]]:
        what = root + (f" ({filter_})" if filter_ else "")

        def fetch(skip: int, take: int) -> Page:
            data = self._execute(what, query, {"skip": skip, "take": take, "filter": filter_}, company)
            try:
                found = data[root]
                return Page(list(found["items"] or []), total=found.get("totalCount"))
            except (KeyError, TypeError):
                raise MalformedResponse(f"{what} answered without {root}.items", connection=self.connection,
                                        company=company, field=root) from None

        return offset_pages(fetch, size=self.page_size, where=Where(ERP, what, self.connection, company),
                            parameter="skip", count=count)

    def _check_company(self, erp_id: str) -> None:
        """A company of this tenant: its id is ``<tenant>-<companyInfoId>`` (see :meth:`list_companies`)."""
        if not erp_id.startswith(f"{self.tenant}-"):
            raise ConnectorError(f"company '{erp_id}' is not one of tenant '{self.tenant}' (its companies are "
                                 f"'{self.tenant}-<n>'; list them with osr company available)",
                                 connection=self.connection, company=erp_id, field="erp_id")

    # -- the connector protocol -------------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The tenant's ``companyInfos``; one whose name is empty cannot be chosen, and says where to fill it in.

        A company's id is ``<tenant>-<companyInfoId>``: every tenant numbers its own from 1, and the tenant in
        it keeps two tenants' companies apart (and out of the duplicate-company warning).
        """
        found = []
        for items in self._pages("companyInfos", queries.COMPANIES, None):
            for item in items:
                try:
                    erp_id = f"{self.tenant}-{item['companyInfoId']}"
                    name = (item.get("companyName") or "").strip()
                except (KeyError, TypeError):
                    raise MalformedResponse("companyInfos answered an item without companyInfoId",
                                            connection=self.connection, field="companyInfoId") from None
                if not name:
                    raise ConnectorError(f"tenant '{self.tenant}': the company name is empty, so no company can be "
                                         f"chosen: {COMPANY_NAME_HELP}", connection=self.connection,
                                         company=erp_id, field="companyName")
                found.append(CompanyInfo(erp_id, name, _text(item.get("organizationNumber"))))
        return found

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        """Project accounts (the accounts project transactions and budgets name), departments, projects,
        customers and suppliers, each by its id."""
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        self._check_company(erp_id)
        root, query = queries.DIMENSIONS[dimension]
        mapper = _DIMENSION_MAPPERS[dimension]
        for items in self._pages(root, query, erp_id):
            yield map_page(items, lambda page: [mapper(item) for item in page], connection=self.connection,
                           company=erp_id)

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Nothing: Contracting Works keeps no general ledger (its project economics are read apart)."""
        self._last_count.value = SourceCount(0, "general ledger", True,
                                             "Contracting Works keeps no general ledger; its invoice and supplier "
                                             "invoice lines are imported as project_transactions")
        return iter(())

    def source_count(self) -> SourceCount:
        return self._last_count.value

    def project_count(self) -> SourceCount:
        """``totalCount`` of the last completed :meth:`stream_project_transactions`, summed over its two sets."""
        return self._project_count

    def stream_project_transactions(self, erp_id: str, window: Window | None,
                                    changed_since: datetime | None = None) -> Iterator[Batch]:
        """Invoice lines (revenue, negative) and supplier invoice lines (cost, positive): all of them, those
        whose document is dated in ``window``, or those created or changed from ``changed_since`` on."""
        self._check_company(erp_id)
        tally = Tally("totalCount", exact=True)
        self._project_count = SourceCount(None, "totalCount", False, "the last read did not complete")
        for root, query, date_path, mapper in (
                ("invoiceLines", queries.INVOICE_LINES, "invoice.invoiceDate", _invoice_line),
                ("supplierInvoiceLines", queries.SUPPLIER_INVOICE_LINES, "supplierInvoice.invoiceDate",
                 _supplier_invoice_line)):
            # a document without a date is not invoiced yet: asked away, so totalCount counts what is loaded
            dated = f"{date_path} != null"
            filter_ = (f"{changed_filter(changed_since)} & {dated}" if changed_since is not None
                       else window_filter(date_path, window) if window is not None else dated)
            for items in self._pages(root, query, erp_id, filter_, tally):
                rows = map_page(items, lambda page, m=mapper: [r for r in map(m, page) if r is not None],
                                connection=self.connection, company=erp_id)
                if rows:
                    yield rows
        self._project_count = tally.result()

    def stream_budgets(self, erp_id: str) -> Iterator[Batch]:
        """Every budget line period: scenario, project account, project, the project's department, month."""
        self._check_company(erp_id)
        for items in self._pages("budgetLinePeriods", queries.BUDGET_LINE_PERIODS, erp_id):
            yield map_page(items, lambda page: [_budget(item) for item in page], connection=self.connection,
                           company=erp_id)

    def close(self) -> None:
        self._http.close()
        self._auth_http.close()


def _stamp(item: Mapping[str, Any]) -> str | None:
    return _text(item.get("sys_UpdatedDateUTC"))


def _invoice_line(item: Mapping[str, Any]) -> tuple | None:
    """Revenue, signed as a ledger signs it (credit, negative); a line of an invoice not yet dated is skipped."""
    invoice = item["invoice"] or {}
    if not invoice.get("invoiceDate"):
        return None
    day = date.fromisoformat(str(invoice["invoiceDate"])[:10])
    account = (item.get("income_ProjectAccount") or {}).get("accountNumber")
    return (f"invoice-line:{item['invoiceLineId']}", "invoice", _text(invoice.get("invoiceNumber")), day.isoformat(),
            _month(day), _text(invoice.get("projectId")), str(account if account is not None else ""),
            _text(item.get("departmentId") or invoice.get("departmentId")), _text(invoice.get("customerId")), None,
            -_amount(item.get("calc_InvoiceAmount")), _text(item.get("invoiceLineText")), _stamp(item))


def _supplier_invoice_line(item: Mapping[str, Any]) -> tuple | None:
    """Cost, signed as a ledger signs it (debit, positive); the project is the line's assignment's."""
    invoice = item["supplierInvoice"] or {}
    if not invoice.get("invoiceDate"):
        return None
    day = date.fromisoformat(str(invoice["invoiceDate"])[:10])
    return (f"supplier-invoice-line:{item['supplierInvoiceLineId']}", "supplier_invoice",
            _text(invoice.get("invoiceNumber")), day.isoformat(), _month(day),
            _text((item.get("assignment") or {}).get("projectId")), str(item.get("projectAccountNumberTxt") or ""),
            _text(item.get("departmentId")), None, _text(invoice.get("supplierId")),
            _amount(item.get("lineAmount")), _text(item.get("comment")), _stamp(item))


def _budget(item: Mapping[str, Any]) -> tuple:
    """A budget line period, signed as a ledger signs it: entered positive, a revenue account's (NS 4102 class
    3, as project accounts are numbered) becomes negative."""
    period = item["projectPeriod"]
    line = item["budgetLine"]
    budget = line["budget"]
    account = str((line.get("projectAccount") or {}).get("accountNumber") or "")
    value = _amount(item.get("budgetValue"))
    return (str(item["budgetLinePeriodId"]), str((budget.get("budgetScenario") or {}).get("description") or ""),
            account, _text(budget.get("projectId")), _text((budget.get("project") or {}).get("departmentId")),
            int(period["periodYear"]) * 100 + int(period["periodNumber"]), -value if account[:1] == "3" else value)


def _account(item: Mapping[str, Any]) -> tuple:
    number = item.get("accountNumber")
    return (str(item["projectAccountId"]), _text(number), item.get("description"),
            account_type(None, (), int(number) if number is not None else 9999), None)


_DIMENSION_MAPPERS: dict[str, Callable[[Mapping[str, Any]], tuple]] = {
    "accounts": _account,
    "departments": lambda i: (str(i["departmentId"]), _text(i.get("departmentNumber")), i.get("description")),
    "projects": lambda i: (str(i["projectId"]), _text(i.get("code")), i.get("name")),
    "customers": lambda i: (str(i["customerId"]), _text(i.get("customerNumber")), i.get("name"),
                            _text(i.get("organizationNumber"))),
    "suppliers": lambda i: (str(i["supplierId"]), _text(i.get("supplierNumber")), i.get("supplierName"),
                            _text(i.get("organizationNumber"))),
}
