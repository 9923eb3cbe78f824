"""A Contracting Works emulator: Devinco Connect tokens and the per-client GraphQL endpoint.

``POST /Token/GenerateAccessTokenAsJson`` takes ``{subjectId, apiKey, clientId,
tenantId}`` and answers ``{accessToken, validFromUTC, validToUTC}`` (a wrong
subject id or API key is HTTP 401). ``POST /client/<tenant>/graphql`` needs a
bearer token issued for that tenant (HTTP 401 otherwise), parses and validates
the query with graphql-core against the published SDL's subset
(:mod:`osr_sandbox.contractingworks_schema`), and executes it, so an answer
holds exactly the fields selected. Root sets take ``filter`` (the string
expressions the connector sends: ``path op 'value'`` joined by ``&``),
``orderBy``, ``skip`` and ``take``, and answer ``totalCount`` and ``items``;
``path = null`` and ``path != null`` test for a missing value.
GraphQL errors are HTTP 200 with ``errors``.

Tenant ``10355-vismaosr`` holds generated projects, invoices, supplier
invoices and budgets (sized by option ``lines``); tenant ``10356-noname`` is
the same company without a company name.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from graphql import GraphQLError, build_schema, graphql_sync
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.contractingworks_schema import SDL
from osr_sandbox.server import BearerTokens, FaultInjector, FaultStyle, SandboxErp

SCHEMA = build_schema(SDL)
TENANT, NAMELESS = "10355-vismaosr", "10356-noname"
SUBJECT, API_KEY = "integration-user", "cw-sandbox-key"
LIFETIME = 24 * 3600.0
_TERM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(>=|<=|!=|=|>|<)\s*(?:'((?:[^']|'')*)'|(null))\s*")


@dataclass
class Tenant:
    """One client of Contracting Works: its rows per root set, related rows nested as the API nests them."""

    sets: dict[str, list[dict]] = field(default_factory=dict)


def _path(row: Mapping[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _value(value: Any) -> Any:
    """A row's value as the filter compares it: numbers as numbers, everything else as ISO text."""
    return value if isinstance(value, int | float) else (None if value is None else str(value))


def row_filter(expression: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """The terms of ``expression`` (``a >= 'x' & b < 'y'``), all of which a row must meet."""
    if not expression:
        return lambda row: True
    terms = []
    for part in expression.split("&"):
        found = _TERM.fullmatch(part)
        if found is None:
            raise GraphQLError(f"filter expression not understood: {part.strip()!r}")
        value = None if found.group(4) else found.group(3).replace("''", "'")
        if value is None and found.group(2) not in ("=", "!="):
            raise GraphQLError(f"null compares with = or != only: {part.strip()!r}")
        terms.append((found.group(1), found.group(2), value))
    compare = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
               "<": lambda a, b: a < b, "=": lambda a, b: a == b, "!=": lambda a, b: a != b}

    def keep(row: Mapping[str, Any]) -> bool:
        for path, op, text in terms:
            value = _value(_path(row, path))
            if text is None:  # null is a legal value to compare with, as in C#
                if (value is None) != (op == "="):
                    return False
                continue
            operand: Any = type(value)(text) if isinstance(value, int | float) else text
            if value is None or not compare[op](value, operand):
                return False
        return True

    return keep


def _root(rows: list[dict]) -> Callable[..., dict]:
    def resolve(info: Any, skip: int | None = None, take: int | None = None, top: int | None = None,
                filter: str | None = None, orderBy: list[dict] | None = None) -> dict:
        found = [r for r in rows if row_filter(filter)(r)]
        for order in reversed(orderBy or []):
            found.sort(key=lambda r, p=order["path"]: (_path(r, p) is None, _path(r, p)),
                       reverse=bool(order.get("descending")))
        start = skip or 0
        end = start + take if take is not None else None
        return {"totalCount": len(found), "items": found[start:end]}
    return resolve


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generated(books: SyntheticBooks, lines: int = 60, seed: int = 11) -> Tenant:
    """Projects, invoices, supplier invoices and budgets over the books' last fifteen months."""
    rng = random.Random(seed)
    end = books.end
    accounts = [{"projectAccountId": i + 1, "accountNumber": n, "description": d} for i, (n, d) in enumerate(
        [(3000, "Kontraktsinntekt"), (3100, "Tilleggsarbeid"), (4000, "Materialer"), (4500, "Underentreprenør"),
         (5000, "Lønn")])]
    departments = [{"departmentId": 1, "departmentNumber": 10, "description": "Bygg"},
                   {"departmentId": 2, "departmentNumber": 20, "description": "Anlegg"}]
    projects = [{"projectId": 100 + i, "code": f"P-{100 + i}", "name": name, "departmentId": 1 + i % 2}
                for i, name in enumerate(["Skole", "Barnehage", "Idrettshall", "Bru"])]
    customers = [{"customerId": 1, "customerNumber": 10001, "name": "Kommunen", "organizationNumber": "944000001"},
                 {"customerId": 2, "customerNumber": 10002, "name": "Eiendom AS", "organizationNumber": None}]
    suppliers = [{"supplierId": 1, "supplierNumber": 20001, "supplierName": "Byggvare AS",
                  "organizationNumber": "955000001"},
                 {"supplierId": 2, "supplierNumber": 20002, "supplierName": "Rør og Sånt AS",
                  "organizationNumber": None}]
    stamp = datetime(end.year, end.month, end.day, tzinfo=UTC) - timedelta(days=30)
    invoice_lines, supplier_lines = [], []
    for n in range(lines):
        day = end - timedelta(days=rng.randrange(450))
        project = rng.choice(projects)
        invoice = {"invoiceId": n // 2 + 1, "invoiceNumber": 5000 + n // 2, "invoiceDate": day.isoformat(),
                   "projectId": project["projectId"], "customerId": rng.choice(customers)["customerId"],
                   "departmentId": project["departmentId"]}
        invoice_lines.append({
            "invoiceLineId": n + 1, "calc_InvoiceAmount": round(rng.uniform(1_000, 90_000), 2),
            "invoiceLineText": f"Arbeid {n + 1}", "departmentId": None, "sys_UpdatedDateUTC": _iso(stamp),
            "income_ProjectAccount": accounts[rng.randrange(2)], "invoice": invoice})
        supplier_lines.append({
            "supplierInvoiceLineId": n + 1, "lineAmount": round(rng.uniform(500, 60_000), 2),
            "comment": f"Innkjøp {n + 1}", "departmentId": project["departmentId"],
            "projectAccountNumberTxt": str(accounts[2 + rng.randrange(3)]["accountNumber"]),
            "sys_UpdatedDateUTC": _iso(stamp), "assignment": {"assignmentId": n + 1, "projectId": project["projectId"]},
            "supplierInvoice": {"supplierInvoiceId": n + 1, "invoiceNumber": f"F{7000 + n}",
                                "invoiceDate": day.isoformat(), "supplierId": rng.choice(suppliers)["supplierId"]}})
    periods, n = [], 0
    scenario = {"budgetScenarioId": 1, "description": "Budsjett"}
    for project in projects:
        budget = {"budgetId": project["projectId"], "projectId": project["projectId"], "budgetScenario": scenario,
                  "project": project}
        for account in accounts:
            line = {"budgetLineId": len(periods) + 1, "projectAccount": account, "budget": budget}
            for back in range(12):
                month = (end.replace(day=1) - timedelta(days=31 * back)).replace(day=1)
                n += 1
                periods.append({"budgetLinePeriodId": n, "budgetValue": round(rng.uniform(1_000, 50_000), 2),
                                "projectPeriod": {"projectPeriodId": month.year * 100 + month.month,
                                                  "periodYear": month.year, "periodNumber": month.month},
                                "budgetLine": line})
    return Tenant({"companyInfos": [{"companyInfoId": 1, "companyName": "Vismaosr Bygg AS",
                                     "organizationNumber": "999888777"}],
                   "projectAccounts": accounts, "departments": departments, "projects": projects,
                   "customers": customers, "suppliers": suppliers, "invoiceLines": invoice_lines,
                   "supplierInvoiceLines": supplier_lines, "budgetLinePeriods": periods})


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def contractingworks_app(tenants: Mapping[str, Tenant], faults: str | None = None, *,
                         token_lifetime: float = LIFETIME,
                         clock: Callable[[], float] = time.monotonic) -> Starlette | FaultInjector:
    """The emulator over ``tenants`` (tenant id -> its data)."""
    tokens = BearerTokens(clock, prefix="cw-")
    issued: list[str] = []

    async def token(request: Request) -> Response:
        body = orjson.loads(await request.body() or b"{}")
        tenant = body.get("tenantId")
        if body.get("subjectId") != SUBJECT or body.get("apiKey") != API_KEY or tenant not in tenants \
                or body.get("clientId") != int(str(tenant).split("-", 1)[0]):
            return _json({"title": "Unauthorized", "status": 401}, 401)
        now = datetime.now(UTC)
        issued.append(tenant)
        return _json({"accessToken": tokens.issue(tenant, token_lifetime), "validFromUTC": _iso(now),
                      "validToUTC": _iso(now + timedelta(seconds=token_lifetime))})

    async def graphql(request: Request) -> Response:
        tenant = request.path_params["tenant"]
        if tenant not in tenants or tokens.subject(request.headers.get("authorization")) != tenant:
            return _json({"title": "Unauthorized", "status": 401}, 401)
        body = orjson.loads(await request.body() or b"{}")
        root = {name: _root(rows) for name, rows in tenants[tenant].sets.items()}
        result = graphql_sync(SCHEMA, body.get("query") or "", root_value=root,
                              variable_values=body.get("variables") or {})
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [{"message": e.message} for e in result.errors]
        return _json(out)

    app = Starlette(routes=[Route("/Token/GenerateAccessTokenAsJson", token, methods=["POST"]),
                            Route("/client/{tenant}/graphql", graphql, methods=["POST"])])
    app.state.tokens = tokens
    app.state.issued = issued
    app.state.tenants = tenants  # the source data itself: tests compare imports with it and change it between them
    style = FaultStyle(error_body=lambda status, message: orjson.dumps({"title": message, "status": status}),
                       rate_limit_headers=lambda seconds: [(b"retry-after", str(seconds).encode())])
    return FaultInjector(app, faults, style) if faults else app


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> Starlette | FaultInjector:
    data = generated(books, int(options.get("lines", 60)))
    nameless = Tenant({**data.sets, "companyInfos": [{"companyInfoId": 1, "companyName": "",
                                                      "organizationNumber": "999888777"}]})
    return contractingworks_app({TENANT: data, NAMELESS: nameless}, faults)


def _login(base: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    # pages of 25: every set but the dimensions spans several, so paging is proven over HTTP (and under faults)
    return ({"auth_url": base, "graphql_url": base, "tenant": options.get("tenant", TENANT), "page_size": "25"},
            {"subject_id": SUBJECT, "api_key": API_KEY})


SANDBOX = SandboxErp(app=_app, login=_login)
