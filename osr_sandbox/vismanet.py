"""A Visma.net ERP emulator over the synthetic books.

It answers the paths the connector uses with Visma.net's shapes: bare JSON
arrays of DTOs with ``metadata{totalCount,maxPageSize}`` on every item,
mandatory ``pageNumber``/``pageSize`` (a missing one is a 400, a page size
above ``maxPageSize`` is cut to it, as the API documents), IPP exception
bodies, ``X-RateLimit-*`` headers of a fixed window per company and client,
and a Visma Connect token endpoint: the client id and secret must match, and
a *customer* tenant id gets a token that the API then refuses with 401, as
the real service does.

Each books company has its own company tenant (``tenants``): a token names
its tenant, and the tenant is the company, so no request needs an
``ipp-company-id`` header (none is read). ``/API/resources/v1/context``
answers the token's one company ``{id, name, type}``; the books' company ids
are the context ids.

Financial years start in month ``financial_year_start`` (1 by default);
``/v1/financialPeriod`` lists their monthly periods ``YYYYPP`` (the year being
the calendar year the financial year starts in), and every GL line carries
the period of its date in ``period`` (the period before, for lines of a
month's first ``late_posting_days`` days). ``GeneralLedgerTransactions`` keeps the
lines whose period lies in ``fromPeriod..toPeriod`` and whose date lies in
``fromDate..toDate``; a period the company does not have is a 400.

GL lines encode the books' posting id as batch number + line number
(``739000000021`` is line 1 of batch ``73900000002``) and carry the voucher
number as ``refNumber``; the connector's mapping turns them back into the
books' rows.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import ACCOUNTS, SyntheticBooks
from osr_sandbox.server import (
    BearerTokens,
    FaultInjector,
    FaultStyle,
    FixedWindows,
    Grant,
    Headers,
    LiveMutations,
    SandboxErp,
)

SCOPE = "vismanet_erp_service_api:read"
LEDGERS = ({"internalId": 1, "number": "L", "description": "Hovedbok", "balanceType": "Actual",
            "currencyId": "NOK", "consolidationSource": False, "branchAccounting": False},
           {"internalId": 2, "number": "B", "description": "Budsjett", "balanceType": "Budget",
            "currencyId": "NOK", "consolidationSource": False, "branchAccounting": False})
BRANCH = {"number": "1", "name": "Hovedkontor"}
_ACCOUNTS = {number: (name, kind) for number, name, kind, _group in ACCOUNTS}

#: The made-up client and customer tenant a sandbox accepts unless given others.
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_CUSTOMER_TENANT_ID = "9b1d7c44-customer-tenant"


def tenant_of(erp_id: str) -> str:
    """The made-up company tenant id of a books company."""
    return f"5f0c0a2e-company-{erp_id}"


class ApiFailure(Exception):
    """An answer other than 200, with Visma.net's IPP exception body."""

    def __init__(self, status: int, message: str, code: str = "0") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def error_body(status: int, message: str, code: str = "0") -> bytes:
    return orjson.dumps({"ExceptionType": "IPPException", "ExceptionMessage": message,
                         "ExceptionFaultCode": code, "ExceptionMessageID": f"{code}_{status}",
                         "ExceptionDetails": message})


def rate_headers(grant: Grant) -> Headers:
    return [(b"x-ratelimit-limit", str(grant.limit).encode()),
            (b"x-ratelimit-remaining", str(grant.remaining).encode()),
            (b"x-ratelimit-reset", str(grant.reset).encode()), (b"x-ratelimit-policy", b"4-fixed-window")]


FAULT_STYLE = FaultStyle(error_body=lambda status, message: error_body(status, message, str(status)),
                         rate_limit_headers=lambda reset: rate_headers(Grant(False, 1000, 0, reset)))


def _account_type(number: str) -> str:
    kind = _ACCOUNTS.get(number, ("", "income"))[1]
    if kind == "balance":
        return "Asset" if number < "2" else "Liability"
    return "Income" if number < "4" else "Expense"


class FinancialCalendar:
    """Monthly financial periods of years starting in month ``first_month``, covering ``first``..``last``."""

    def __init__(self, first_month: int, first: date, last: date) -> None:
        if not 1 <= first_month <= 12:
            raise ValueError(f"financial_year_start must be a month 1..12, not {first_month}")
        self.first_month = first_month
        start_year = first.year - (first.month < first_month)
        end_year = last.year - (last.month < first_month)
        self.periods: dict[str, tuple[date, date]] = {}
        for year in range(start_year, end_year + 1):
            for number in range(1, 13):
                month = (first_month - 1 + number - 1) % 12 + 1
                calendar_year = year + (first_month - 1 + number - 1) // 12
                begin = date(calendar_year, month, 1)
                following = date(calendar_year + (month == 12), month % 12 + 1, 1)
                self.periods[f"{year}{number:02d}"] = (begin, following - timedelta(days=1))

    def period_of(self, day: date) -> str:
        """The id of the period holding ``day``."""
        year = day.year - (day.month < self.first_month)
        return f"{year}{(day.month - self.first_month) % 12 + 1:02d}"

    def post_period(self, day: date, late_days: int) -> str:
        """The period a line dated ``day`` is posted to: the one before when ``day`` is among the
        first ``late_days`` days of its period (and that period exists), as when a month is closed late."""
        period = self.period_of(day)
        if day.day > late_days:
            return period
        year, number = int(period[:4]), int(period[4:])
        previous = f"{year}{number - 1:02d}" if number > 1 else f"{year - 1}12"
        return previous if previous in self.periods else period

    def dtos(self) -> list[dict]:
        """``FinancialPeriodDto`` items; ``endDate`` is the period's last day, a guess: the API does not
        say whether it is that or the next period's first day."""
        return [{"year": int(pid[:4]), "period": pid, "startDate": f"{begin}T00:00:00",
                 "endDate": f"{end}T00:00:00", "description": begin.strftime("%B"), "active": True,
                 "closedInSupplierLedger": False, "closedInCustomerLedger": False,
                 "closedInInventoryManagement": False, "closedInGeneralLedger": False,
                 "closedInCashManagement": False, "closedInFixedAssets": False}
                for pid, (begin, end) in self.periods.items()]


def gl_line(row: tuple, period: str) -> dict:
    """A ``GeneralLedgerTransactionDetailsDto`` of a books posting tuple (``POSTING_COLUMNS`` order),
    posted to the financial ``period``."""
    posting, amount, in_currency = int(row[0]), row[5], row[7]
    line = {"lineNumber": posting % 100_000, "module": "GL", "batchNumber": str(posting // 100_000),
            "tranDate": f"{row[2]}T00:00:00", "period": period, "description": row[8], "refNumber": row[1],
            "branch": BRANCH, "account": {"type": _account_type(row[4]), "number": row[4],
                                          "description": _ACCOUNTS.get(row[4], ("",))[0]},
            "ledger": {"id": "L", "description": "Hovedbok"},
            "debitAmount": amount if amount > 0 else 0.0, "creditAmount": -amount if amount < 0 else 0.0,
            "currency": row[6], "currDebitAmount": in_currency if in_currency > 0 else 0.0,
            "currCreditAmount": -in_currency if in_currency < 0 else 0.0, "lastModifiedDateTime": row[16]}
    if row[9] is not None:
        line["subaccount"] = row[9]
    return line


class VismaNetSandbox:
    """The state behind the app: books, Visma Connect clients and tokens, rate windows, cached GL windows."""

    def __init__(self, books: SyntheticBooks, *, client_id: str, client_secret: str, tenants: Mapping[str, str],
                 customer_tenant_id: str, financial_year_start: int, max_page_size: int, rate_limit: int,
                 rate_period: float, token_seconds: int, clock: Callable[[], float]) -> None:
        self.books = books
        self.live = LiveMutations(books)
        self.client_id, self.client_secret = client_id, client_secret
        self.tenants, self.customer_tenant_id = dict(tenants), customer_tenant_id
        self.calendar = FinancialCalendar(financial_year_start, books.start, books.end)
        self.max_page_size = max_page_size
        #: older API versions cut pages without saying so; tests switch this off to prove the client copes
        self.announce_max_page_size = True
        #: lines dated in the first days of a month are posted to the month before (0: none)
        self.late_posting_days = 0
        #: tests switch these to prove the client copes with a missing count and stops on a repeated page
        self.announce_total_count = True
        self.ignore_page_number = False
        self.rate = FixedWindows(rate_limit, rate_period, clock)
        self.token_seconds = token_seconds
        self.clock = clock
        self.tokens = BearerTokens(clock, prefix="vc.")  # for the tenant id asked for
        self.companies = {c.erp_id: c for c in books.companies()}
        self.changed = f"{books.start.isoformat()}T00:00:00"
        self.windows: OrderedDict[tuple, list[dict]] = OrderedDict()
        self.lock = threading.Lock()
        self.requests = itertools.count(1)

    # -- Visma Connect ------------------------------------------------------------------------

    def issue_token(self, form: dict[str, str]) -> dict:
        if form.get("grant_type") != "client_credentials":
            raise ApiFailure(400, "unsupported_grant_type")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise ApiFailure(400, "invalid_client")
        if form.get("tenant_id") not in (*self.tenants, self.customer_tenant_id):
            raise ApiFailure(400, "invalid_request")
        if SCOPE not in form.get("scope", "").split():
            raise ApiFailure(400, "invalid_scope")
        token = self.tokens.issue(form["tenant_id"], self.token_seconds)
        return {"access_token": token, "expires_in": self.token_seconds, "token_type": "Bearer", "scope": SCOPE}

    def company(self, request: Request) -> str:
        """The company of the token's tenant; 401 for unknown or expired tokens and customer-tenant ones."""
        company = self.tenants.get(self.tokens.subject(request.headers.get("authorization")) or "")
        if company is None:
            raise ApiFailure(401, "Authorization has been denied for this request.")
        if company not in self.companies:
            raise ApiFailure(403, f"No access to company {company}.", "10003")
        return company

    # -- lists ------------------------------------------------------------------------------------

    def page(self, items: list[dict], params: dict[str, str]) -> bytes:
        """One page of ``items`` with ``metadata`` on each; pageNumber and pageSize are mandatory."""
        number, size = _int(params, "pageNumber"), _int(params, "pageSize")
        if number < 1 or size < 1:
            raise ApiFailure(400, "pageNumber and pageSize must be at least 1.", "10002")
        size = min(size, self.max_page_size)
        if self.ignore_page_number:
            number = 1
        meta = {"totalCount": len(items), "maxPageSize": self.max_page_size}
        if not self.announce_max_page_size:
            del meta["maxPageSize"]
        if not self.announce_total_count:
            del meta["totalCount"]
        return orjson.dumps([{**item, "metadata": meta} for item in items[(number - 1) * size:number * size]])

    def gl_lines(self, company: str, params: dict[str, str]) -> list[dict]:
        """The lines of a GeneralLedgerTransactions query, kept for the pages that follow."""
        for name in ("ledger", "fromPeriod", "toPeriod"):
            if not params.get(name):
                raise ApiFailure(400, f"{name} is mandatory.", "10004")
        periods = (self._period(params, "fromPeriod"), self._period(params, "toPeriod"))
        first, last = _date(params, "fromDate", self.books.start), _date(params, "toDate", self.books.end)
        key = (company, params["ledger"], periods, first, last, self.late_posting_days, self.live.version())
        with self.lock:
            lines = self.windows.get(key)
            if lines is None:
                lines = []
                if params["ledger"] == "L" and last >= first:
                    post_period, late = self.calendar.post_period, self.late_posting_days
                    for batch in self.books.postings_in(company, Window(first, last + timedelta(days=1))):
                        for row in batch:
                            period = post_period(date.fromisoformat(row[2]), late)
                            if periods[0] <= period <= periods[1]:
                                lines.append(gl_line(row, period))
                self.windows[key] = lines
                while len(self.windows) > 3:
                    self.windows.popitem(last=False)
            self.windows.move_to_end(key)
        return lines

    def _period(self, params: dict[str, str], name: str) -> str:
        value = params[name]
        if len(value) != 6 or not value.isdigit():
            raise ApiFailure(400, f"{name} must be a period YYYYPP.", "10004")
        if value not in self.calendar.periods:
            raise ApiFailure(400, f"'{name}' cannot be found in the system: no financial period {value}.", "10004")
        return value

    def dimension(self, name: str) -> list[dict]:
        changed = self.changed
        if name == "ledger":
            return [{**ledger, "lastModifiedDateTime": changed} for ledger in LEDGERS]
        rows = self.books.dimension(name)
        if name == "accounts":
            return [{"accountID": int(i), "accountCD": number, "accountGroupCd": group, "type": _account_type(number),
                     "active": True, "description": text, "lastModifiedDateTime": changed}
                    for i, number, text, _kind, group in rows]
        if name == "departments":
            return [{"subaccountNumber": code, "subaccountId": int(i), "description": text, "active": True,
                     "lastModifiedDateTime": changed,
                     "segments": [{"segmentId": 1, "segmentDescription": "Avdeling", "segmentValue": code,
                                   "segmentValueDescription": text}]} for i, code, text in rows]
        if name == "projects":
            return [{"internalID": int(i), "projectID": code, "description": text, "status": "Active",
                     "hold": False, "lastModifiedDateTime": changed} for i, code, text in rows]
        return [{"internalId": int(i), "number": code, "name": text, "status": "Active", "corporateId": org,
                 "lastModifiedDateTime": changed} for i, code, text, org in rows]


def _int(params: dict[str, str], name: str) -> int:
    try:
        return int(params[name])
    except KeyError:
        raise ApiFailure(400, f"{name} is mandatory: use pageNumber and pageSize.", "10002") from None
    except ValueError:
        raise ApiFailure(400, f"{name} is not a number.", "10002") from None




def _date(params: dict[str, str], name: str, default: date) -> date:
    try:
        return date.fromisoformat(params[name][:10]) if params.get(name) else default
    except ValueError:
        raise ApiFailure(400, f"{name} must be a date YYYY-MM-DD.", "10004") from None


def vismanet_app(books: SyntheticBooks, *, client_id: str, client_secret: str,
                 tenants: Mapping[str, str] | None = None, customer_tenant_id: str = DEFAULT_CUSTOMER_TENANT_ID,
                 financial_year_start: int = 1, faults: str | None = None, fault_seed: int = 7,
                 max_page_size: int = 1000, rate_limit: int = 100_000, rate_period: float = 3600.0,
                 token_seconds: int = 3600, clock: Callable[[], float] = time.monotonic) -> Starlette | FaultInjector:
    """The Visma.net sandbox (API and Visma Connect token endpoint) over ``books``; ``app.state.sandbox``
    holds its state. ``tenants`` maps company tenant ids to books company ids (default: :func:`tenant_of`
    for each company). ``clock`` drives rate windows and token expiry so tests can share a fake clock."""
    sandbox = VismaNetSandbox(books, client_id=client_id, client_secret=client_secret,
                              tenants=tenants or {tenant_of(c.erp_id): c.erp_id for c in books.companies()},
                              customer_tenant_id=customer_tenant_id, financial_year_start=financial_year_start,
                              max_page_size=max_page_size, rate_limit=rate_limit, rate_period=rate_period,
                              token_seconds=token_seconds, clock=clock)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        try:
            body = sandbox.issue_token(form)
        except ApiFailure as failure:
            return Response(orjson.dumps({"error": failure.message}), failure.status, media_type="application/json")
        return Response(orjson.dumps(body), 200, {"cache-control": "no-store"}, media_type="application/json")

    def endpoint(handler: Callable[[str, dict[str, str]], Any]) -> Callable:
        async def respond(request: Request) -> Response:
            head: dict[str, str] = {"x-request-id": f"sandbox-{next(sandbox.requests)}"}
            try:
                erp_id = sandbox.company(request)
                grant = sandbox.rate.take(f"{erp_id}:{sandbox.client_id}")
                head.update((k.decode(), v.decode()) for k, v in rate_headers(grant))
                if not grant.allowed:
                    raise ApiFailure(429, "Too Many Requests", "429")
                body = handler(erp_id, dict(request.query_params))
            except ApiFailure as failure:
                return Response(error_body(failure.status, failure.message, failure.code), failure.status, head,
                                media_type="application/json")
            return Response(body if isinstance(body, bytes) else orjson.dumps(body), 200, head,
                            media_type="application/json")

        return respond

    def contexts(company: str, _params: dict[str, str]) -> list[dict]:
        return [{"id": int(company), "name": sandbox.companies[company].name, "type": "Company"}]

    def financial_periods(_company: str, _params: dict[str, str]) -> list[dict]:
        return sandbox.calendar.dtos()

    def listing(name: str) -> Callable:
        return lambda _company, params: sandbox.page(sandbox.dimension(name), params)

    def gl_transactions(company: str, params: dict[str, str]) -> bytes:
        return sandbox.page(sandbox.gl_lines(company, params), params)

    routes = [
        Route("/connect/token", token, methods=["POST"]),
        Route("/API/resources/v1/context", endpoint(contexts), methods=["GET"]),
        Route("/v1/financialPeriod", endpoint(financial_periods), methods=["GET"]),
        Route("/v1/ledger", endpoint(listing("ledger")), methods=["GET"]),
        Route("/v1/account", endpoint(listing("accounts")), methods=["GET"]),
        Route("/v1/subaccount", endpoint(listing("departments")), methods=["GET"]),
        Route("/v1/project", endpoint(listing("projects")), methods=["GET"]),
        Route("/v1/customer", endpoint(listing("customers")), methods=["GET"]),
        Route("/v1/supplier", endpoint(listing("suppliers")), methods=["GET"]),
        Route("/v1/GeneralLedgerTransactions", endpoint(gl_transactions), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    if faults:
        return FaultInjector(app, faults, FAULT_STYLE, seed=fault_seed)
    return app


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> Starlette | FaultInjector:
    return vismanet_app(
        books,
        client_id=options.get("client_id", DEFAULT_CLIENT_ID),
        client_secret=options.get("client_secret", DEFAULT_CLIENT_SECRET),
        customer_tenant_id=options.get("customer_tenant_id", DEFAULT_CUSTOMER_TENANT_ID),
        financial_year_start=int(options.get("financial_year_start", 1)),
        faults=faults,
        max_page_size=int(options.get("max_page_size", 1000)),
        rate_limit=int(options.get("rate_limit", 100_000)),
    )


def _login(base_url: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    return ({"base_url": base_url, "token_url": f"{base_url}/connect/token",
             "tenant_id": ",".join(tenant_of(c.erp_id) for c in books.companies())},
            {"client_id": options.get("client_id", DEFAULT_CLIENT_ID),
             "client_secret": options.get("client_secret", DEFAULT_CLIENT_SECRET)})


SANDBOX = SandboxErp(app=_app, login=_login)
