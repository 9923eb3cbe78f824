"""An Xledger GraphQL emulator over the synthetic books.

It serves ``POST /graphql`` with ``Authorization: token <token>``, a schema
written from the published entity field lists (``specs/xledger/*.json``, names
exactly as there: ``header_postedDate`` is ``header { postedDate }``) and from
public clients where those lists are silent (``docs/connectors/xledger.md``
names the source of each): Relay connections (``first``/``after``, ``edges {
cursor node }``, ``pageInfo``, at most 10 000 nodes per page, cursors are
``dbId``\\ s), ``ownerSet``, ``objectStatus`` (closed records are left out
unless asked for), input types named ``<Entity>_Filter`` as Xledger names them,
``modifiedAt_gte``, a posting-date filter whose name is an option (no published
material confirms one), and Xledger's way of failing: HTTP 200 with
``errors[{message, code, extensions: {code}}]`` for the burst rate limit, the
concurrency limit and used-up credits; a missing or unknown token answers HTTP
401 with an ``UNAUTHORIZED`` error. Tests can script rare errors for the next
requests with :meth:`XledgerSandbox.reject_next`, and a server that forgets the
cursor with :meth:`XledgerSandbox.ignore_after`.

Entities: with ``group`` (the default) the token belongs to a domain holding a
group entity ``KONSERN`` (whose sub-entities are the books' companies, ``dbId`` =
the books' company id) and a holding company outside the group; otherwise it
belongs to the first company, which has no sub-entities. Business partners:
every fifth supplier is the same company as a customer; some accounts,
customers and suppliers are closed.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
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
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.columns import objects
from osr_sandbox.server import FaultInjector, FaultStyle, FixedWindows, LiveMutations, SandboxErp

#: The filter field of ``transactions`` holding the posting date unless the sandbox is told another
#: (option ``posted_date_filter``); the connector's default, which no published material confirms.
POSTED_DATE_FILTER = "headerPostedDate"

SDL = """
scalar Int64String
scalar DateTimeString

enum OwnerSet { CURRENT UPPER LOWER MINE }
enum ObjectStatus { ALL OPEN CLOSED }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! }

type Entity { dbId: Int64String! code: String description: String parent: Entity }
type EntityEdge { cursor: String! node: Entity! }
type EntityConnection { edges: [EntityEdge!]! pageInfo: PageInfo! }

type Currency { dbId: Int64String code: String }
type TransactionHeader {
  dbId: Int64String transactionNumber: String text: String postedDate: String
  createdAt: DateTimeString modifiedAt: DateTimeString
}
type Transaction {
  dbId: Int64String! text: String amount: String invoiceAmount: String monthNumber: String
  accountDbId: Int64String companyDbId: Int64String
  glObject1DbId: Int64String glObject2DbId: Int64String glObject3DbId: Int64String
  glObject4DbId: Int64String glObject5DbId: Int64String
  currency: Currency header: TransactionHeader
}
type TransactionEdge { cursor: String! node: Transaction! }
type TransactionConnection { edges: [TransactionEdge!]! pageInfo: PageInfo! }
input Transaction_Filter { ownerDbId: Int64String POSTED_gte: String POSTED_lt: String }

type AccountGroup { dbId: Int64String }
type LedgerType { dbId: Int64String name: String }
type Account {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  balanceSheet: Boolean credit: Boolean revenue: Boolean cost: Boolean
  accountGroup: AccountGroup ledgerType: LedgerType
}
type AccountEdge { cursor: String! node: Account! }
type AccountConnection { edges: [AccountEdge!]! pageInfo: PageInfo! }
input Account_Filter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type ObjectValue {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  objectKindDbId: Int64String
}
type ObjectValueEdge { cursor: String! node: ObjectValue! }
type ObjectValueConnection { edges: [ObjectValueEdge!]! pageInfo: PageInfo! }
input ObjectValue_Filter { ownerDbId: Int64String objectKindDbId: Int64String modifiedAt_gte: DateTimeString }

type Project {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
}
type ProjectEdge { cursor: String! node: Project! }
type ProjectConnection { edges: [ProjectEdge!]! pageInfo: PageInfo! }
input Project_Filter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Company { dbId: Int64String companyNumber: String }
type Customer {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  company: Company
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection { edges: [CustomerEdge!]! pageInfo: PageInfo! }
input Customer_Filter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Supplier {
  dbId: Int64String! code: String description: String modifiedAt: DateTimeString ownerDbId: Int64String
  company: Company
}
type SupplierEdge { cursor: String! node: Supplier! }
type SupplierConnection { edges: [SupplierEdge!]! pageInfo: PageInfo! }
input Supplier_Filter { ownerDbId: Int64String modifiedAt_gte: DateTimeString }

type Query {
  entities(first: Int, after: String, ownerSet: OwnerSet): EntityConnection
  transactions(first: Int, after: String, ownerSet: OwnerSet, filter: Transaction_Filter): TransactionConnection
  accounts(first: Int, after: String, ownerSet: OwnerSet, objectStatus: ObjectStatus,
           filter: Account_Filter): AccountConnection
  objectValues(first: Int, after: String, ownerSet: OwnerSet, filter: ObjectValue_Filter): ObjectValueConnection
  projects(first: Int, after: String, ownerSet: OwnerSet, filter: Project_Filter): ProjectConnection
  customers(first: Int, after: String, ownerSet: OwnerSet, objectStatus: ObjectStatus,
            filter: Customer_Filter): CustomerConnection
  suppliers(first: Int, after: String, ownerSet: OwnerSet, objectStatus: ObjectStatus,
            filter: Supplier_Filter): SupplierConnection
}
"""


@functools.lru_cache(maxsize=8)
def schema_for(posted_date_filter: str) -> GraphQLSchema:
    """The sandbox schema whose ``Transaction_Filter`` names the posting date ``posted_date_filter``."""
    return build_schema(SDL.replace("POSTED_", f"{posted_date_filter}_"))


SCHEMA = schema_for(POSTED_DATE_FILTER)
MAX_FIRST = 10_000
#: The entity tree in group mode: a domain holding a group (whose subsidiaries are the books'
#: companies) and a holding company outside the group. Tuples are (dbId, code, description, parent dbId).
DOMAIN = (8000, "DOMENE", "Domene", None)
GROUP = (9000, "KONSERN", "Konsern AS", 8000)
HOLDING = (8100, "HOLDING", "Holding AS", 8000)
DEPARTMENT_KIND = "1"
PARTNER_OFFSET = 500_000  # customers' and suppliers' business-partner company dbIds
#: Closed records, which Xledger leaves out unless asked for (``objectStatus``): an account the
#: purchases post to, and every tenth customer and supplier (all with postings).
CLOSED_ACCOUNTS = frozenset({"6540"})
#: Receivable and payable accounts: their ledger type.
LEDGER_TYPES = {"1500": "AR", "2400": "AP"}

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


def partner_companies(books: SyntheticBooks) -> tuple[dict[str, str], dict[str, str]]:
    """The business-partner company (``dbId``) of each customer and supplier id, and each company's
    organisation number. Every fifth supplier is the same company as a customer, as a partner that
    both buys and sells is in Xledger: one company, a customer and a supplier."""
    partners: dict[str, str] = {}
    numbers: dict[str, str] = {}
    for row in books.dimension("customers"):
        partners[row[0]] = company = str(PARTNER_OFFSET + int(row[0]))
        numbers[company] = row[3]
    for row in books.dimension("suppliers"):
        index = int(row[0]) % 10_000
        twin = str(10_000 + index)
        partners[row[0]] = company = partners[twin] if index % 5 == 0 and twin in partners else str(
            PARTNER_OFFSET + int(row[0]))
        numbers.setdefault(company, row[3])
    return partners, numbers


def closed(dimension: str, row: tuple) -> bool:
    """Whether the sandbox keeps this master-data row closed."""
    if dimension == "accounts":
        return row[1] in CLOSED_ACCOUNTS
    return dimension in ("customers", "suppliers") and int(row[0]) % 10 == 9


def resolvers(books: SyntheticBooks, entities: Mapping[int, tuple]) -> dict[str, dict[str, Getter]]:
    """Field getters per schema type, over the books' tuples (postings in ``POSTING_COLUMNS`` order)."""
    account_ids = {row[1]: row[0] for row in books.dimension("accounts")}
    partners, numbers = partner_companies(books)
    return {
        "PageInfo": {"hasNextPage": lambda p: p.has_next, "hasPreviousPage": lambda p: False},
        "Entity": {"dbId": lambda e: str(e[0]), "code": itemgetter(1), "description": itemgetter(2),
                   "parent": lambda e: entities.get(e[3])},
        "Transaction": {
            "dbId": itemgetter(0), "text": itemgetter(8), "amount": lambda r: _money(r[5]),
            "invoiceAmount": lambda r: _money(r[7]), "monthNumber": lambda r: r[2][5:7],
            "accountDbId": lambda r: account_ids[r[4]],
            "companyDbId": lambda r: partners.get(r[11] or r[12]),
            "glObject1DbId": itemgetter(9), "glObject2DbId": itemgetter(10), "glObject3DbId": itemgetter(13),
            "glObject4DbId": itemgetter(14), "glObject5DbId": itemgetter(15), "currency": itemgetter(6),
            "header": lambda r: r,
        },
        "Currency": {"dbId": lambda code: str(sum(ord(c) for c in code)), "code": lambda code: code},
        "TransactionHeader": {
            "dbId": itemgetter(1), "transactionNumber": itemgetter(1), "text": itemgetter(8),
            "postedDate": itemgetter(2), "createdAt": lambda r: f"{r[2]}T12:00:00", "modifiedAt": itemgetter(16),
        },
        "Account": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                            "balanceSheet": lambda a: a[3] == "balance", "credit": lambda a: a[1][0] in "23",
                            "revenue": lambda a: a[1][0] == "3",
                            "cost": lambda a: a[3] == "income" and a[1][0] in "4567",
                            "accountGroup": lambda a: a[4][:2],
                            "ledgerType": lambda a: LEDGER_TYPES.get(a[1], "GL")}),
        "AccountGroup": {"dbId": lambda group: group},
        "LedgerType": {"dbId": lambda name: str(sum(ord(c) for c in name)), "name": lambda name: name},
        "ObjectValue": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                                "objectKindDbId": lambda _: DEPARTMENT_KIND}),
        "Project": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2)}),
        "Customer": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                             "company": lambda c: partners[c[0]]}),
        "Supplier": _master({"dbId": itemgetter(0), "code": itemgetter(1), "description": itemgetter(2),
                             "company": lambda c: partners[c[0]]}),
        "Company": {"dbId": lambda company: company, "companyNumber": lambda company: numbers[company]},
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
        """A function from a source to the dict of exactly the selected fields."""
        build = self.compile_many(type_, selection)
        return lambda source: build([source])[0]

    def compile_many(self, type_: GraphQLObjectType, selection: SelectionSetNode) -> Callable[[list], list[dict]]:
        """A function from sources to their dicts, built a column (field) at a time: 10 000 nodes per page
        make this the hot path, and columns keep its loops in C (see :mod:`osr_sandbox.columns`)."""
        keys: list[str] = []
        columns: list[Callable[[list], Iterable[Any]]] = []
        for node in selection.selections:
            if not isinstance(node, FieldNode):
                raise XledgerFailure.of("BAD_REQUEST", "Fragments are not supported by this sandbox")
            name = node.name.value
            keys.append(node.alias.value if node.alias else name)
            if name == "__typename":
                columns.append(lambda sources, t=type_.name: [t] * len(sources))
                continue
            get = self._getter(type_, name)
            field_type = get_nullable_type(type_.fields[name].type)
            named = get_named_type(field_type)
            if not is_object_type(named):
                columns.append(functools.partial(map, get))
            elif is_list_type(field_type):
                columns.append(_list_column(get, self.compile_many(named, node.selection_set)))
            else:
                columns.append(_object_column(get, self.compile_many(named, node.selection_set)))

        def build(sources: list) -> list[dict]:
            return objects(keys, [column(sources) for column in columns], len(sources))

        return build


def _list_column(get: Getter, build: Callable[[list], list[dict]]) -> Callable[[list], list[list[dict]]]:
    return lambda sources: [build(items) for items in map(get, sources)]


def _object_column(get: Getter, build: Callable[[list], list[dict]]) -> Callable[[list], list[dict | None]]:
    """Nullable objects: the non-null ones built together, nulls kept in place."""

    def column(sources: list) -> list[dict | None]:
        values = list(map(get, sources))
        if None not in values:
            return build(values)
        built = iter(build([v for v in values if v is not None]))
        return [None if v is None else next(built) for v in values]

    return column


@functools.lru_cache(maxsize=64)
def parse_query(query: str, posted_date_filter: str = POSTED_DATE_FILTER) -> tuple[Any, tuple[dict, ...]]:
    """The parsed document and graphql-core's validation errors, per query text and schema."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, (_graphql_error(exc, "GRAPHQL_PARSE_FAILED"),)
    problems = validate(schema_for(posted_date_filter), document)
    return document, tuple(_graphql_error(e, "ARGUMENTS_OF_CORRECT_TYPE") for e in problems)


def _graphql_error(exc: GraphQLError, code: str) -> dict:
    locations = [{"line": loc.line, "column": loc.column} for loc in exc.locations or []]
    return error(code, exc.message, locations)


class XledgerSandbox:
    """The state behind the app: books, entities, limits, cached windows and compiled queries."""

    def __init__(self, books: SyntheticBooks, *, token: str, group: bool, burst_limit: int, burst_period: float,
                 concurrency_limit: int, credits: int | None, clock: Callable[[], float],
                 posted_date_filter: str = POSTED_DATE_FILTER) -> None:
        self.books = books
        self.live = LiveMutations(books)
        self.token = token
        self.posted_date_filter = posted_date_filter
        self.schema = schema_for(posted_date_filter)
        if group:
            companies = [(int(c.erp_id), c.erp_id, c.name, GROUP[0]) for c in books.companies()]
            tree = [DOMAIN, GROUP, HOLDING, *companies]
        else:
            first = books.companies()[0]
            tree = [(int(first.erp_id), first.erp_id, first.name, None)]
        self.entities = {e[0]: e for e in tree}
        self.entity = tree[0]  # the entity the token was made in
        self.burst = FixedWindows(burst_limit, burst_period, clock)
        self.concurrency_limit = concurrency_limit
        self.in_flight = 0
        self.credits = credits
        self.scripted: deque[str] = deque()
        self.ignored_after = 0
        self.requests = itertools.count(1)
        self.compiler = Compiler(resolvers(books, self.entities))
        self.builders: dict[tuple[str, str], Callable[[Any], dict]] = {}
        self.windows: OrderedDict[tuple, tuple[list[int], list[tuple]]] = OrderedDict()
        self.lock = threading.Lock()
        modified = f"{books.start.isoformat()}T00:00:00"  # the synthetic master data was set up when the books begin
        self.master = {name: [(row, modified, closed(name, row)) for row in books.dimension(name)]
                       for name in ("accounts", "departments", "projects", "customers", "suppliers")}

    def reject_next(self, code: str, times: int = 1) -> None:
        """Answer the next ``times`` requests with the error ``code`` (for tests of rare limits)."""
        self.scripted.extend([code] * times)

    def ignore_after(self, times: int) -> None:
        """Answer the next ``times`` pages as if no ``after`` cursor had been sent: the first page
        again, still promising more (a server fault a client must not follow forever)."""
        self.ignored_after = times

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
        document, problems = parse_query(query, self.posted_date_filter)
        if problems:
            raise XledgerFailure(list(problems))
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = body.get("operationName")
        operation = next((o for o in operations if name is None or (o.name and o.name.value == name)), None)
        if operation is None or operation.operation.value != "query":
            raise XledgerFailure.of("BAD_REQUEST", "Only queries are supported by this sandbox")
        values = get_variable_values(self.schema, operation.variable_definitions or [], variables)
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
                field = self.schema.query_type.fields[node.name.value]
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

    def lower(self) -> list[tuple]:
        """The token's entity and every entity below it, in ``dbId`` order."""
        found, frontier = [self.entity], [self.entity[0]]
        while frontier:
            below = [e for e in self.entities.values() if e[3] in frontier]
            found.extend(below)
            frontier = [e[0] for e in below]
        return sorted(found)

    def owners(self, owner_set: str | None) -> set[str]:
        """Entities a query reaches: CURRENT (the default) the token's own, LOWER it and those below it."""
        entities = self.lower() if owner_set == "LOWER" else [self.entity]
        return {str(e[0]) for e in entities}

    def resolve(self, root: str, args: dict[str, Any]) -> Page:
        first = args.get("first")
        first = MAX_FIRST if first is None else first
        if not 0 <= first <= MAX_FIRST:
            raise XledgerFailure.of("BAD_REQUEST", f"first must be between 0 and {MAX_FIRST}")
        after, owners, filter_ = args.get("after"), self.owners(args.get("ownerSet")), args.get("filter") or {}
        if self.ignored_after and after is not None:
            self.ignored_after -= 1
            after = None
        if root == "entities":
            entities = self.lower() if args.get("ownerSet") == "LOWER" else [self.entity]
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
        status = args.get("objectStatus") or "OPEN"
        items = [(owner, modified, row) for owner in companies for row, modified, is_closed in self.master[name]
                 if (since is None or datetime.fromisoformat(modified) >= since)
                 and (kind is None or str(kind) == DEPARTMENT_KIND)
                 and (status == "ALL" or is_closed == (status == "CLOSED"))]
        page = page_of([int(i[2][0]) for i in items], items, first, after)
        if self.ignored_after and not page.has_next:
            page.has_next = True  # a server that forgets the cursor also keeps promising more
        return page

    def _transactions(self, companies: list[str], filter_: Mapping[str, Any], first: int, after: str | None) -> Page:
        if len(companies) > 1:
            raise XledgerFailure.of("BAD_REQUEST", "This sandbox pages one owner at a time: filter on ownerDbId")
        field = self.posted_date_filter
        start = _day(filter_.get(f"{field}_gte"), f"{field}_gte") or self.books.start
        end = _day(filter_.get(f"{field}_lt"), f"{field}_lt") or self.books.end + timedelta(days=1)
        if not companies or end <= start:
            return Page([], False)
        ids, rows = self.window(companies[0], start, end)
        page = page_of(ids, rows, first, after)
        if self.ignored_after and not page.has_next:
            page.has_next = True
        return page

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
                credits: int | None = None, clock: Callable[[], float] = time.monotonic,
                posted_date_filter: str = POSTED_DATE_FILTER) -> Starlette | FaultInjector:
    """The Xledger sandbox over ``books``; ``app.state.sandbox`` holds its state.

    ``burst_limit`` requests per ``burst_period`` seconds of ``clock`` (a fake clock
    in tests), ``concurrency_limit`` requests in flight, and ``credits`` requests
    in all (``None``: unlimited) before Xledger's errors. ``posted_date_filter``
    names the posting-date filter of ``transactions`` (``<name>_gte``/``<name>_lt``).
    """
    sandbox = XledgerSandbox(books, token=token, group=group, burst_limit=burst_limit, burst_period=burst_period,
                             concurrency_limit=concurrency_limit, credits=credits, clock=clock,
                             posted_date_filter=posted_date_filter)

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
                       credits=int(credits) if credits else None,
                       posted_date_filter=options.get("posted_date_filter", POSTED_DATE_FILTER))


def _login(base_url: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    group = options.get("group", "true").lower() == "true"
    entity = GROUP[1] if group else books.company_ids[0]
    return {"base_url": f"{base_url}/graphql", "entity": entity}, {"token": options.get("token", DEFAULT_TOKEN)}


SANDBOX = SandboxErp(app=_app, login=_login)
