"""An Xledger GraphQL emulator over the synthetic books.

It serves ``POST /graphql`` with ``Authorization: token <token>``, a schema
written from the published entity field lists (``specs/xledger/*.json``, names
exactly as there: ``header_postedDate`` is ``header { postedDate }``), Relay
connections (``first``/``after``, ``edges { cursor node }``, ``pageInfo``, at most
10 000 nodes per page, cursors are ``dbId``\\ s), ``ownerSet``, ``filter`` inputs
with ``modifiedAt_gte`` and posted-date ranges, and Xledger's way of failing:
HTTP 200 with ``errors[{message, code, extensions: {code}}]`` for the burst
rate limit, the concurrency limit and used-up credits; a missing or unknown
token answers HTTP 401 with an ``UNAUTHORIZED`` error. Tests can script rare
errors for the next requests with :meth:`XledgerSandbox.reject_next`.

Entities: with ``group`` (the default) the token belongs to a group entity
whose sub-entities are the books' companies (``dbId`` = the books' company id);
otherwise it belongs to the first company, which has no sub-entities.

Speed: resolving a page of 10 000 transactions through graphql-core's executor
takes about 0.5 s here, five times or more the direct build, so each query is
parsed and validated by graphql-core (cached per query text) and then answered
directly: the selection set is compiled once into
functions that build exactly the selected fields (aliases included) from the
books' tuples, and the answer is written with orjson.
"""

from __future__ import annotations

import bisect
import functools
import gc
import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    get_named_type,
    get_nullable_type,
    is_list_type,
    is_object_type,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.base import Window
from osr_pipelines.sandbox.generator import SyntheticBooks
from osr_pipelines.sandbox.server import FaultInjector, FaultStyle, FixedWindows, LiveMutations, SandboxErp

SDL = """
scalar Int64String
scalar DateTimeString

enum OwnerSet { CURRENT UPPER LOWER MINE }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! }

type Entity { dbId: Int64String! code: String description: String }
type EntityEdge { cursor: String! node: Entity! }
type EntityConnection { edges: [EntityEdge!]! pageInfo: PageInfo! }

type TransactionHeader {
  dbId: Int64String transactionNumber: String text: String postedDate: String
  createdAt: DateTimeString modifiedAt: DateTimeString
}
type Transaction {
  dbId: Int64String! text: String amount: String invoiceAmount: String monthNumber: String
  accountDbId: Int64String companyDbId: Int64String
  glObject1DbId: Int64String glObject2DbId: Int64String glObject3DbId: Int64String
  glObject4DbId: Int64String glObject5DbId: Int64String
  header: TransactionHeader
}
type TransactionEdge { cursor: String! node: Transaction! }
type TransactionConnection { edges: [TransactionEdge!]! pageInfo: PageInfo! }
input TransactionFilter { ownerDbId: Int64String postedDate_gte: String postedDate_lt: String }

type AccountGroup { dbId: Int64String }
type Account {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  balanceSheet: Boolean credit: Boolean accountGroup: AccountGroup
}
type AccountEdge { cursor: String! node: Account! }
type AccountConnection { edges: [AccountEdge!]! pageInfo: PageInfo! }
input AccountFilter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type ObjectValue {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  objectKindDbId: Int64String
}
type ObjectValueEdge { cursor: String! node: ObjectValue! }
type ObjectValueConnection { edges: [ObjectValueEdge!]! pageInfo: PageInfo! }
input ObjectValueFilter { ownerDbId: Int64String objectKindDbId: Int64String modifiedAt_gte: DateTimeString }

type Project {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
}
type ProjectEdge { cursor: String! node: Project! }
type ProjectConnection { edges: [ProjectEdge!]! pageInfo: PageInfo! }
input ProjectFilter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Company { dbId: Int64String companyNumber: String }
type Customer {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  company: Company
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! pageInfo: PageInfo! }
input CustomerFilter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Supplier {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  company: Company
}
type SupplierEdge { cursor: String! node: Supplier! }
type SupplierConnection { edges: [SupplierEdge!]! pageInfo: PageInfo! }
input SupplierFilter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Query {
  entities(first: Int, after: String, ownerSet: OwnerSet): EntityConnection
  transactions(first: Int, after: String, ownerSet: OwnerSet, filter: TransactionFilter): TransactionConnection
  accounts(first: Int, after: String, ownerSet: OwnerSet, filter: AccountFilter): AccountConnection
  objectValues(first: Int, after: String, ownerSet: OwnerSet, filter: ObjectValueFilter): ObjectValueConnection
  projects(first: Int, after: String, ownerSet: OwnerSet, filter: ProjectFilter): ProjectConnection
  customers(first: Int, after: String, ownerSet: OwnerSet, filter: CustomerFilter): CustomerConnection
  suppliers(first: Int, after: String, ownerSet: OwnerSet, filter: SupplierFilter): SupplierConnection
}
"""

SCHEMA = build_schema(SDL)
MAX_FIRST = 10_000
GROUP = (9000, "KONSERN", "Konsern AS")
DEPARTMENT_KIND = "1"
PARTNER_OFFSET = 500_000  # customers' and suppliers' business-partner company dbIds

BURST = "BAD_REQUEST.BURST_RATE_LIMIT_REACHED"
CONCURRENCY = "BAD_REQUEST.CONCURRENCY_LIMIT_REACHED"
CREDITS = "BAD_REQUEST.INSUFFICIENT_CREDITS"


class XledgerFailure(Exception):
    """Errors to answer with, and the HTTP status (200 unless the request could not be read or authorized)."""

    def __init__(self, errors: list[dict], status: int = 200) -> None:
        super().__init__(errors[0]["message"])
        self.errors, self.status = errors, status

    @classmethod
    def of(cls, code: str, message: str, status: int = 200) -> XledgerFailure:
        return cls([error(code, message)], status)


def error(code: str, message: str, locations: list | None = None) -> dict:
    entry: dict[str, Any] = {"message": message, "code": code, "extensions": {"code": code}}
    if locations:
        entry["locations"] = locations
    return entry


def errors_body(errors: list[dict]) -> bytes:
    return orjson.dumps({"errors": errors, "data": None})


FAULT_STYLE = FaultStyle(
    error_body=lambda status, message: errors_body([
        error(BURST, "Short rate limit reached, slow down") if status == 429
        else error("INTERNAL_SERVER_ERROR", message)]),
    rate_limit_headers=lambda reset: [],
    rate_limit_status=200,
)


@dataclass
class Page:
    """A connection's page: (cursor, node source) edges, and whether more follow."""

    edges: list[tuple[str, Any]]
    has_next: bool


def page_of(ids: list[int], items: list, first: int, after: str | None) -> Page:
    """Nodes after the ``after`` cursor (a ``dbId``) in ``dbId`` order."""
    try:
        start = bisect.bisect_right(ids, int(after)) if after else 0
    except ValueError:
        raise XledgerFailure.of("BAD_REQUEST", f"Invalid cursor '{after}'") from None
    chunk = items[start:start + first]
    return Page([(str(ids[start + i]), item) for i, item in enumerate(chunk)], start + first < len(items))


Getter = Callable[[Any], Any]
_PAGE_FIELDS: dict[str, Getter] = {"edges": lambda p: p.edges, "pageInfo": lambda p: p}
_EDGE_FIELDS: dict[str, Getter] = {"cursor": itemgetter(0), "node": itemgetter(1)}


def _money(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _master(row_fields: dict[str, Getter]) -> dict[str, Getter]:
    """Master data nodes are (owner, modifiedAt, row) tuples."""
    return {"ownerDbId": itemgetter(0), "modifiedAt": itemgetter(1),
            **{k: (lambda s, g=g: g(s[2])) for k, g in row_fields.items()}}


def resolvers(books: SyntheticBooks) -> dict[str, dict[str, Getter]]:
    """Field getters per schema type, over the books' tuples (postings in ``POSTING_COLUMNS`` order)."""
    account_ids = {row[1]: row[0] for row in books.dimension("accounts")}
    partners = {row[0]: str(PARTNER_OFFSET + int(row[0])) for d in ("customers", "suppliers")
                for row in books.dimension(d)}
    return {
        "PageInfo": {"hasNextPage": lambda p: p.has_next, "hasPreviousPage": lambda p: False},
        "Entity": {"dbId": lambda e: str(e[0]), "code": itemgetter(1), "description": itemgetter(2)},
        "Transaction": {
            "dbId": itemgetter(0), "text": itemgetter(8), "amount": lambda r: _money(r[5]),
            "invoiceAmount": lambda r: _money(r[7]), "monthNumber": lambda r: r[2][5:7],
            "accountDbId": lambda r: account_ids[r[4]],
            "companyDbId": lambda r: partners.get(r[11] or r[12]),
            "glObject1DbId": itemgetter(9), "glObject2DbId": itemgetter(10), "glObject3DbId": itemgetter(13),
            "glObject4DbId": itemgetter(14), "glObject5DbId": itemgetter(15), "header": lambda r: r,
        },
        "TransactionHeader": {
            "dbId": itemgetter(1), "transactionNumber": itemgetter(1), "text": itemgetter(8),
            "postedDate": itemgetter(2), "createdAt": lambda r: f"{r[2]}T12:00:00", "modifiedAt": itemgetter(16),
        },
        "Account": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                            "balanceSheet": lambda a: a[3] == "balance", "credit": lambda a: a[1][0] in "23",
                            "accountGroup": lambda a: a[4][:2]}),
        "AccountGroup": {"dbId": lambda group: group},
        "ObjectValue": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                                "objectKindDbId": lambda _: DEPARTMENT_KIND}),
        "Project": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2)}),
        "Customer": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                             "company": lambda c: (partners[c[0]], c[3])}),
        "Supplier": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                             "company": lambda c: (partners[c[0]], c[3])}),
        "Company": {"dbId": itemgetter(0), "companyNumber": itemgetter(1)},
    }


class Compiler:
    """Selection sets to functions from node sources to dicts of exactly the selected fields."""

    def __init__(self, getters: dict[str, dict[str, Getter]]) -> None:
        self.getters = getters

    def _getter(self, type_: GraphQLObjectType, name: str) -> Getter:
        if type_.name.endswith("Connection"):
            return _PAGE_FIELDS[name]
        if type_.name.endswith("Edge"):
            return _EDGE_FIELDS[name]
        return self.getters[type_.name][name]

    def compile(self, type_: GraphQLObjectType, selection: SelectionSetNode) -> Callable[[Any], dict]:
        """One generated function per selection set: a dict display of the selected keys, so that
        a node costs one call plus its getters (10 000 nodes per page make this the hot path)."""
        namespace: dict[str, Any] = {}
        items: list[str] = []
        for i, node in enumerate(selection.selections):
            if not isinstance(node, FieldNode):
                raise XledgerFailure.of("BAD_REQUEST", "Fragments are not supported by this sandbox")
            name = node.name.value
            namespace[f"k{i}"] = node.alias.value if node.alias else name
            if name == "__typename":
                namespace[f"g{i}"] = type_.name
                items.append(f"k{i}: g{i}")
                continue
            namespace[f"g{i}"] = self._getter(type_, name)
            field_type = get_nullable_type(type_.fields[name].type)
            named = get_named_type(field_type)
            if not is_object_type(named):
                items.append(f"k{i}: g{i}(s)")
                continue
            namespace[f"b{i}"] = self.compile(named, node.selection_set)
            if is_list_type(field_type):
                items.append(f"k{i}: [b{i}(x) for x in g{i}(s)]")
            else:
                items.append(f"k{i}: None if (v{i} := g{i}(s)) is None else b{i}(v{i})")
        # The code is built from field indexes only; names and values stay in the namespace.
        exec(f"def build(s):\n    return {{{', '.join(items)}}}", namespace)
        return namespace["build"]


@functools.lru_cache(maxsize=64)
def parse_query(query: str) -> tuple[Any, tuple[dict, ...]]:
    """The parsed document and graphql-core's validation errors, per query text."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (_graphql_error(exc, "GRAPHQL_PARSE_FAILED"),)
    return document, tuple(_graphql_error(e, "ARGUMENTS_OF_CORRECT_TYPE") for e in validate(SCHEMA, document))


def _graphql_error(exc: GraphQLError, code: str) -> dict:
    locations = [{"line": loc.line, "column": loc.column} for loc in exc.locations or []]
    return error(code, exc.message, locations)


class XledgerSandbox:
    """The state behind the app: books, entities, limits, cached windows and compiled queries."""

    def __init__(self, books: SyntheticBooks, *, token: str, group: bool, burst_limit: int, burst_period: float,
                 concurrency_limit: int, credits: int | None, clock: Callable[[], float]) -> None:
        self.books = books
        self.live = LiveMutations(books)
        self.token = token
        self.companies = [(int(c.erp_id), c.erp_id, c.name) for c in books.companies()]
        self.entity = GROUP if group else self.companies[0]
        self.subs = self.companies if group else []
        self.burst = FixedWindows(burst_limit, burst_period, clock)
        self.concurrency_limit = concurrency_limit
        self.in_flight = 0
        self.credits = credits
        self.scripted: deque[str] = deque()
        self.requests = itertools.count(1)
        self.compiler = Compiler(resolvers(books))
        self.builders: dict[tuple[str, str], Callable[[Any], dict]] = {}
        self.windows: OrderedDict[tuple, tuple[list[int], list[tuple]]] = OrderedDict()
        self.lock = threading.Lock()
        modified = f"{books.start.isoformat()}T00:00:00"  # the synthetic master data was set up when the books begin
        self.master = {name: [(row, modified) for row in books.dimension(name)]
                       for name in ("accounts", "departments", "projects", "customers", "suppliers")}

    def reject_next(self, code: str, times: int = 1) -> None:
        """Answer the next ``times`` requests with the error ``code`` (for tests of rare limits)."""
        self.scripted.extend([code] * times)

    # -- checks ------------------------------------------------------------------------

    def admit(self, request: Request) -> None:
        """Token, credits, burst rate and scripted errors, in the order Xledger would meet them."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "token" or not token:
            raise XledgerFailure.of("UNAUTHORIZED", "Bad format for API token", 401)
        if token != self.token:
            raise XledgerFailure.of("UNAUTHORIZED", "Invalid API token", 401)
        if self.credits is not None:
            if self.credits <= 0:
                raise XledgerFailure.of(CREDITS, "Insufficient credits to run the query")
            self.credits -= 1
        if self.scripted:
            code = self.scripted.popleft()
            raise XledgerFailure.of(code, f"Scripted {code}")
        if not self.burst.take().allowed:
            raise XledgerFailure.of(BURST, "Short rate limit reached, slow down")
        if self.in_flight >= self.concurrency_limit:
            raise XledgerFailure.of(CONCURRENCY, "Too many concurrent requests for this token")

    # -- answering ---------------------------------------------------------------------

    def answer(self, body: Mapping[str, Any]) -> bytes:
        query, variables = body.get("query"), body.get("variables") or {}
        if not isinstance(query, str) or not isinstance(variables, dict):
            raise XledgerFailure.of("BAD_REQUEST", "The body must be {query, variables}", 400)
        document, problems = parse_query(query)
        if problems:
            raise XledgerFailure(list(problems))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = body.get("operationName")
        operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
        if operation is None or operation.operation.value != "query":
            raise XledgerFailure.of("BAD_REQUEST", "Only queries are supported by this sandbox")
        values = get_variable_values(SCHEMA, operation.variable_definitions or [], variables)
        if isinstance(values, list):
            raise XledgerFailure([_graphql_error(e, "BAD_USER_INPUT") for e in values])
        data: dict[str, Any] = {}
        enabled = gc.isenabled()
        gc.disable()  # a page of 10 000 new dicts would otherwise trigger collections that scan the whole books
        try:
            for node in operation.selection_set.selections:
                if not isinstance(node, FieldNode):
                    raise XledgerFailure.of("BAD_REQUEST", "Fragments are not supported by this sandbox")
                key = node.alias.value if node.alias else node.name.value
                field = SCHEMA.query_type.fields[node.name.value]
                try:
                    args = get_argument_values(field, node, values)
                except GraphQLError as exc:
                    raise XledgerFailure([_graphql_error(exc, "BAD_USER_INPUT")]) from None
                build = self.builders.get((query, key))
                if build is None:
                    build = self.builders[(query, key)] = self.compiler.compile(
                        get_named_type(field.type), node.selection_set)
                data[key] = build(self.resolve(node.name.value, args))
            return orjson.dumps({"data": data})
        finally:
            if enabled:
                gc.enable()

    def owners(self, owner_set: str | None) -> set[str]:
        """Entities a query reaches: CURRENT (the default) the token's own, LOWER it and its sub-entities."""
        own = {str(self.entity[0])}
        return own | {str(c[0]) for c in self.subs} if owner_set == "LOWER" else own

    def resolve(self, root: str, args: dict[str, Any]) -> Page:
        first = args.get("first")
        first = MAX_FIRST if first is None else first
        if not 0 <= first <= MAX_FIRST:
            raise XledgerFailure.of("BAD_REQUEST", f"first must be between 0 and {MAX_FIRST}")
        after, owners, filter_ = args.get("after"), self.owners(args.get("ownerSet")), args.get("filter") or {}
        if root == "entities":
            entities = [self.entity, *self.subs] if args.get("ownerSet") == "LOWER" else [self.entity]
            return page_of([e[0] for e in entities], entities, first, after)
        wanted = owners if filter_.get("ownerDbId") is None else owners & {str(filter_["ownerDbId"])}
        companies = sorted(o for o in wanted if self.books.has_company(o))
        if root == "transactions":
            return self._transactions(companies, filter_, first, after)
        if len(companies) > 1:
            raise XledgerFailure.of("BAD_REQUEST", "This sandbox pages one owner at a time: filter on ownerDbId")
        name = {"objectValues": "departments"}.get(root, root)
        since = _timestamp(filter_.get("modifiedAt_gte"), "modifiedAt_gte")
        kind = filter_.get("objectKindDbId")
        items = [(owner, modified, row) for owner in companies for row, modified in self.master[name]
                 if (since is None or datetime.fromisoformat(modified) >= since)
                 and (kind is None or str(kind) == DEPARTMENT_KIND)]
        return page_of([int(i[2][0]) for i in items], items, first, after)

    def _transactions(self, companies: list[str], filter_: Mapping[str, Any], first: int, after: str | None) -> Page:
        if len(companies) > 1:
            raise XledgerFailure.of("BAD_REQUEST", "This sandbox pages one owner at a time: filter on ownerDbId")
        start = _day(filter_.get("postedDate_gte"), "postedDate_gte") or self.books.start
        end = _day(filter_.get("postedDate_lt"), "postedDate_lt") or self.books.end + timedelta(days=1)
        if not companies or end <= start:
            return Page([], False)
        ids, rows = self.window(companies[0], start, end)
        return page_of(ids, rows, first, after)

    def window(self, company: str, start: date, end: date) -> tuple[list[int], list[tuple]]:
        """The postings of ``[start, end)`` with their ids, kept for the pages that follow."""
        key = (company, start, end, self.live.version())
        with self.lock:
            hit = self.windows.get(key)
            if hit is None:
                rows = [r for batch in self.books.postings_in(company, Window(start, end)) for r in batch]
                hit = self.windows[key] = ([int(r[0]) for r in rows], rows)
                while len(self.windows) > 4:
                    self.windows.popitem(last=False)
            self.windows.move_to_end(key)
            return hit


def _day(value: Any, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise XledgerFailure.of("BAD_USER_INPUT", f"{name}: '{value}' is not a date") from None


def _timestamp(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value).rstrip("Z"))
    except ValueError:
        raise XledgerFailure.of("BAD_USER_INPUT", f"{name}: '{value}' is not a DateTimeString") from None


def xledger_app(books: SyntheticBooks, *, token: str, group: bool = True, faults: str | None = None,
                fault_seed: int = 7, burst_limit: int = 1000, burst_period: float = 1.0, concurrency_limit: int = 8,
                credits: int | None = None, clock: Callable[[], float] = time.monotonic) -> Starlette | FaultInjector:
    """The Xledger sandbox over ``books``; ``app.state.sandbox`` holds its state.

    ``burst_limit`` requests per ``burst_period`` seconds of ``clock`` (a fake clock
    in tests), ``concurrency_limit`` requests in flight, and ``credits`` requests
    in all (``None``: unlimited) before Xledger's errors.
    """
    sandbox = XledgerSandbox(books, token=token, group=group, burst_limit=burst_limit, burst_period=burst_period,
                             concurrency_limit=concurrency_limit, credits=credits, clock=clock)

    async def graphql(request: Request) -> Response:
        headers = {"x-request-id": f"sandbox-{next(sandbox.requests)}"}
        try:
            sandbox.admit(request)
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                raise XledgerFailure.of("BAD_REQUEST", "The body is not JSON", 400) from None
            if not isinstance(body, dict):
                raise XledgerFailure.of("BAD_REQUEST", "The body must be {query, variables}", 400)
            sandbox.in_flight += 1
            try:
                content = await run_in_threadpool(sandbox.answer, body)
            finally:
                sandbox.in_flight -= 1
        except XledgerFailure as failure:
            return Response(errors_body(failure.errors), failure.status, headers, media_type="application/json")
        return Response(content, 200, headers, media_type="application/json")

    app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
    app.state.sandbox = sandbox
    if faults:
        return FaultInjector(app, faults, FAULT_STYLE, seed=fault_seed)
    return app


#: The made-up token a sandbox accepts unless given another.
DEFAULT_TOKEN = "sandbox-xledger-token"


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> Starlette | FaultInjector:
    credits = options.get("credits")
    return xledger_app(books, token=options.get("token", DEFAULT_TOKEN),
                       group=options.get("group", "true").lower() == "true", faults=faults,
                       burst_limit=int(options.get("burst_limit", 1000)),
                       concurrency_limit=int(options.get("concurrency_limit", 8)),
                       credits=int(credits) if credits else None)


def _login(base_url: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    group = options.get("group", "true").lower() == "true"
    entity = GROUP[1] if group else books.company_ids[0]
    return {"base_url": f"{base_url}/graphql", "entity": entity}, {"token": options.get("token", DEFAULT_TOKEN)}


SANDBOX = SandboxErp(app=_app, login=_login)
