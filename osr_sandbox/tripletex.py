"""A Tripletex API v2 emulator over the synthetic books.

It answers the paths the connector uses with the spec's envelopes
(``ListResponse*``, ``ResponseWrapper*``, ``ApiError``), its session-token
auth (Basic ``0:<token>`` for the employee's own company, ``<client id>:<token>``
for an accountant's clients), its ``X-Rate-Limit-*`` budget and its 422 code
23000 for result sets that are too large, so that the connector meets the
behaviour of the real service without a Tripletex account.
"""

from __future__ import annotations

import base64
import functools
import gc
import itertools
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.base import CompanyInfo, Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox.server import (
    FaultInjector,
    FaultStyle,
    FixedWindows,
    Grant,
    Headers,
    LiveMutations,
    SandboxErp,
)

HOST = "sandbox.tripletex.local"  # Tripletex urls carry the host without a scheme
CURRENCIES = {"NOK": 1, "EUR": 2}
ACCOUNTANT_OFFICE_ID = 9_999_001
EMPLOYEE_ID = 1


class ApiFailure(Exception):
    """An ``ApiError`` answer."""

    def __init__(self, status: int, code: int, message: str, validation: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.validation = status, code, message, validation or []


def api_error_body(status: int, code: int, message: str, request_id: str,
                   validation: list[dict] | None = None) -> bytes:
    return orjson.dumps({
        "status": status, "code": code, "message": message,
        "link": "https://tripletex.no/v2-docs/", "developerMessage": message,
        "validationMessages": validation or [], "requestId": request_id,
    })


_FAULT_CODES = {429: 0, 500: 1000, 502: 1000, 503: 1000}

FAULT_STYLE = FaultStyle(
    error_body=lambda status, message: api_error_body(status, _FAULT_CODES.get(status, 1000), message, "fault"),
    rate_limit_headers=lambda reset: rate_headers(Grant(False, 1000, 0, reset)),
)


# -- the ``fields`` selector ---------------------------------------------------------

FieldTree = dict[str, "FieldTree | None"]


def parse_fields(text: str) -> FieldTree | None:
    """Parse ``"*,account(number),voucher(number,date)"``; ``None`` means the default selection."""
    text = text.replace(" ", "")
    if not text:
        return None
    tree, rest = _parse_level(text, 0)
    if rest != len(text):
        raise ApiFailure(400, 11000, f"Illegal field filter: {text}")
    return tree


def _parse_level(text: str, pos: int) -> tuple[FieldTree, int]:
    tree: FieldTree = {}
    while pos < len(text) and text[pos] != ")":
        end = pos
        while end < len(text) and text[end] not in ",()":
            end += 1
        name = text[pos:end]
        if not name:
            raise ApiFailure(400, 11000, f"Illegal field filter: {text}")
        pos = end
        sub = None
        if pos < len(text) and text[pos] == "(":
            sub, pos = _parse_level(text, pos + 1)
            if pos >= len(text) or text[pos] != ")":
                raise ApiFailure(400, 11000, f"Illegal field filter: {text}")
            pos += 1
        tree[name] = sub
        if pos < len(text) and text[pos] == ",":
            pos += 1
    return tree, pos


@dataclass
class Entity:
    """A Tripletex object type, per source object: scalar getters, and references to other entities
    as (key of the referenced object or None, the object for a key, its entity name).

    ``keyed`` optionally names scalars whose value is a function of a hashable key of the
    source (a posting's change log of its date and change time), as (key, value of a key),
    so that their JSON is written once per key."""

    path: str
    scalars: dict[str, Callable[[Any], Any]]
    refs: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], str]]
    keyed: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = field(default_factory=dict)


Builder = Callable[[Any], dict]


class Schema:
    """Compiles ``fields`` selections into functions from source objects to JSON dicts."""

    def __init__(self, entities: dict[str, Entity]) -> None:
        self.entities = entities

    def _selected(self, name: str, tree: FieldTree | None) -> list[tuple[str, str, Any]]:
        """The selected fields of ``name`` as (key, "scalar" | "objects" | "ref", how to get the value)."""
        entity = self.entities[name]
        if tree is None or "*" in tree:
            selected: FieldTree = {key: None for key in (*entity.scalars, *entity.refs)}
            selected.update({k: v for k, v in (tree or {}).items() if k != "*"})
        else:
            selected = tree
        fields: list[tuple[str, str, Any]] = []
        for key, sub in selected.items():
            if key in entity.keyed:
                key_of, value_of = entity.keyed[key]
                keys = None if not sub or "*" in sub else tuple(sub)
                fields.append((key, "keyed", (entity.scalars[key], key_of, value_of, keys)))
            elif key in entity.scalars:
                get = entity.scalars[key]
                if not sub or "*" in sub:
                    fields.append((key, "scalar", get))
                else:
                    fields.append((key, "objects", _objects_with(get, tuple(sub))))
            elif key in entity.refs:
                key_of, resolve, target = entity.refs[key]
                fields.append((key, "ref", (key_of, resolve, self.compile(target, sub or {"id": None, "url": None}))))
            else:
                raise ApiFailure(400, 11000, f"Illegal field filter: {name} has no field '{key}'")
        return fields

    def compile(self, name: str, tree: FieldTree | None) -> Builder:
        parts: list[tuple[str, Callable[[Any], Any]]] = []
        for key, kind, how in self._selected(name, tree):
            if kind == "keyed":
                get, _, _, keys = how
                how = get if keys is None else _objects_with(get, keys)
            parts.append((key, self._ref(*how) if kind == "ref" else how))

        def build(source: Any) -> dict:
            out = {}
            for key, get in parts:
                value = get(source)
                if value is not None:
                    out[key] = value
            return out

        return build

    def compile_members(self, name: str, tree: FieldTree | None) -> Callable[[Sequence[Any]], list[bytes]]:
        """Like :meth:`compile`, but for a page and straight to JSON: each object's members, each with a leading comma.

        Each field becomes a column of pieces ``,"key":value`` (empty when the
        value is null); pieces of dates, vouchers, accounts, currencies and
        change logs repeat across postings and come from memos, so that a
        posting is mostly a join of cached bytes. Lists join the members of
        their objects. Built a column at a time, the page's loops run in C
        (``map``, ``zip``, ``bytes.join``) rather than per object and field.
        """
        columns: list[Callable[[Sequence[Any]], Iterable[bytes]]] = []
        for key, kind, how in self._selected(name, tree):
            prefix = b',"' + key.encode() + b'":'
            if kind == "ref":
                key_of, resolve, build = how
                columns.append(_memo_column(key_of, _RefPieces(prefix, resolve, build)))
            elif kind == "keyed":
                _, key_of, value_of, keys = how
                columns.append(_memo_column(key_of, _Pieces(
                    lambda k, p=prefix, v=value_of, ks=keys: _piece(p, _with(v(k), ks)))))
            elif kind == "objects":
                columns.append(functools.partial(map, _identity_pieces(how, prefix)))
            else:
                columns.append(_scalar_column(how, prefix))

        def members(sources: Sequence[Any]) -> list[bytes]:
            if not columns:
                return [b""] * len(sources)
            return list(map(b"".join, zip(*[column(sources) for column in columns], strict=True)))

        return members

    @staticmethod
    def _ref(key_of: Callable[[Any], Any], resolve: Callable[[Any], Any], build: Builder) -> Callable[[Any], Any]:
        """Nested objects repeat (accounts, vouchers, currencies); build each once per request."""
        memo: dict[Any, dict | None] = {None: None}

        def get(source: Any) -> dict | None:
            key = key_of(source)
            try:
                return memo[key]
            except KeyError:
                target = resolve(key)
                built = memo[key] = build(target) if target is not None else None
                return built

        return get


class _Pieces(dict):
    """A memo of JSON pieces by value, filled on demand."""

    def __init__(self, make: Callable[[Any], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, value: Any) -> bytes:
        piece = self[value] = self.make(value)
        return piece


def _piece(prefix: bytes, value: Any) -> bytes:
    return b"" if value is None else prefix + orjson.dumps(value)


class _RefPieces(dict):
    """A memo of the JSON pieces of referenced objects by their key."""

    def __init__(self, prefix: bytes, resolve: Callable[[Any], Any], build: Builder) -> None:
        super().__init__()
        self.prefix, self.resolve, self.build = prefix, resolve, build

    def __missing__(self, key: Any) -> bytes:
        target = None if key is None else self.resolve(key)
        piece = self[key] = b"" if target is None else self.prefix + orjson.dumps(self.build(target))
        return piece


def _memo_column(key_of: Callable[[Any], Any], memo: dict) -> Callable[[Sequence[Any]], Iterable[bytes]]:
    """A column of pieces looked up by each source's key in ``memo`` (filled on demand)."""
    pieces = memo.__getitem__
    return lambda sources: map(pieces, map(key_of, sources))


def _scalar_column(get: Callable[[Any], Any], prefix: bytes) -> Callable[[Sequence[Any]], list[bytes]]:
    dumps = orjson.dumps
    return lambda sources: [b"" if v is None else prefix + dumps(v) for v in map(get, sources)]


def _with(objects: list[dict] | None, keys: tuple[str, ...] | None) -> list[dict] | None:
    if objects is None or keys is None:
        return objects
    return [{k: o[k] for k in keys if k in o} for o in objects]


def _identity_pieces(get: Callable[[Any], Any], prefix: bytes) -> Callable[[Any], bytes]:
    """Pieces of values that are shared, unhashable objects (lists), memoized by identity."""
    memo: dict[int, tuple[Any, bytes]] = {}

    def piece(source: Any) -> bytes:
        value = get(source)
        hit = memo.get(id(value))
        if hit is None or hit[0] is not value:
            hit = memo[id(value)] = (value, _piece(prefix, value))
        return hit[1]

    return piece


def _objects_with(get: Callable[[Any], Any], keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """Select ``keys`` of a shared list of plain objects such as ``changes(timestamp)``, once per list."""
    memo: dict[int, tuple[Any, list[dict]]] = {}

    def select(source: Any) -> list[dict] | None:
        objects = get(source)
        if objects is None:
            return None
        hit = memo.get(id(objects))
        if hit is None or hit[0] is not objects:
            hit = memo[id(objects)] = (objects, [{k: o[k] for k in keys if k in o} for o in objects])
        return hit[1]

    return select


def _url(path: str) -> Callable[[Any], str]:
    return lambda s: f"{HOST}/v2/{path}/{s[0]}"


def _account_type(number: int) -> str:
    if number < 2000:
        return "ASSETS"
    if number < 2100:
        return "EQUITY"
    if number < 3000:
        return "LIABILITIES"
    if number < 4000:
        return "OPERATING_REVENUES"
    if number < 8000:
        return "OPERATING_EXPENSES"
    return "INVESTMENT_INCOME" if number < 8100 else "COST_OF_CAPITAL"


@functools.lru_cache(maxsize=8192)
def _changes(day: str, changed: str) -> list[dict]:
    """A posting's change log: created at noon, updated when the generator revised its day (shared, never mutated)."""
    created = f"{day}T12:00:00"
    changes = [{"employeeId": EMPLOYEE_ID, "timestamp": created, "changeType": "CREATE"}]
    if changed != created:
        changes.append({"employeeId": EMPLOYEE_ID, "timestamp": changed, "changeType": "UPDATE"})
    return changes


def _same(value: Any) -> Any:
    return value


#: What Tripletex answers as the ``balanceGroup`` of an account in no balance group, as recorded
#: for the bank accounts 1920 and 1950 of a real test company.
NO_BALANCE_GROUP = "Ikke i en saldogruppe."


def _balance_group(account: tuple) -> str:
    """Bank and cash accounts (19xx) are in no balance group here, as in the recorded answers."""
    return NO_BALANCE_GROUP if account[1].startswith("19") else account[4]


def is_inactive(contact: tuple) -> bool:
    """Every tenth customer and supplier is inactive; old postings still name them."""
    return int(contact[0]) % 10 == 9


def build_schema(books: SyntheticBooks) -> Schema:
    """Entity tables over the books' tuples: dimension rows, posting rows and companies."""
    dims = {d: {row[0]: row for row in books.dimension(d)} for d in ("departments", "projects", "customers",
                                                                       "suppliers")}
    accounts = {row[1]: row for row in books.dimension("accounts")}
    base = {"id": lambda s: int(s[0]), "version": lambda s: 1}

    def voucher(key: tuple[str, str]) -> tuple:
        number = int(key[0])
        return (number, number // 1_000_000, number % 1_000_000, key[1])

    return Schema({
        "Posting": Entity("ledger/posting", {
            **base, "url": _url("ledger/posting"), "date": itemgetter(2), "description": itemgetter(8),
            "amount": itemgetter(5), "amountCurrency": itemgetter(7), "amountGross": itemgetter(5),
            "amountGrossCurrency": itemgetter(7), "row": lambda r: int(r[0]) % 10 + 1,
            "changes": lambda r: _changes(r[2], r[16]),
        }, {
            "voucher": (itemgetter(1, 2), voucher, "Voucher"),
            "account": (itemgetter(4), accounts.get, "Account"),
            "currency": (itemgetter(6), lambda code: (CURRENCIES[code], code), "Currency"),
            "department": (itemgetter(9), dims["departments"].get, "Department"),
            "project": (itemgetter(10), dims["projects"].get, "Project"),
            "customer": (itemgetter(11), dims["customers"].get, "Customer"),
            "supplier": (itemgetter(12), dims["suppliers"].get, "Supplier"),
        }, {"changes": (itemgetter(2, 16), lambda key: _changes(*key)), "date": (itemgetter(2), _same)}),
        "Voucher": Entity("ledger/voucher", {
            **base, "url": _url("ledger/voucher"), "year": lambda v: v[1], "number": lambda v: v[2],
            "date": lambda v: v[3], "numberAsString": lambda v: str(v[2]),
        }, {}),
        "Account": Entity("ledger/account", {
            **base, "url": _url("ledger/account"), "number": lambda a: int(a[1]), "numberPretty": lambda a: a[1],
            "name": lambda a: a[2], "type": lambda a: _account_type(int(a[1])), "balanceGroup": _balance_group,
            "ledgerType": lambda a: "GENERAL", "isInactive": lambda a: False,
            "displayName": lambda a: f"{a[1]} {a[2]}",
        }, {}),
        "Currency": Entity("currency", {**base, "url": _url("currency"), "code": lambda c: c[1]}, {}),
        "Department": Entity("department", {
            **base, "url": _url("department"), "departmentNumber": lambda d: d[1], "name": lambda d: d[2],
            "displayName": lambda d: d[2], "isInactive": lambda d: False,
        }, {}),
        "Project": Entity("project", {
            **base, "url": _url("project"), "number": lambda p: p[1], "name": lambda p: p[2],
            "displayName": lambda p: f"{p[1]} {p[2]}", "isClosed": lambda p: False,
        }, {}),
        "Customer": Entity("customer", {
            **base, "url": _url("customer"), "customerNumber": lambda c: int(c[1]), "name": lambda c: c[2],
            "organizationNumber": lambda c: c[3], "isCustomer": lambda c: True, "isSupplier": lambda c: False,
            "isInactive": is_inactive, "displayName": lambda c: c[2],
        }, {}),
        "Supplier": Entity("supplier", {
            **base, "url": _url("supplier"), "supplierNumber": lambda c: int(c[1]), "name": lambda c: c[2],
            "organizationNumber": lambda c: c[3], "isCustomer": lambda c: False, "isSupplier": lambda c: True,
            "isInactive": is_inactive, "displayName": lambda c: c[2],
        }, {}),
        "Company": Entity("company", {
            **base, "url": _url("company"), "name": lambda c: c[1], "displayName": lambda c: c[1],
            "organizationNumber": lambda c: c[2], "type": lambda c: "AS",
        }, {}),
        "Client": Entity("company", {
            **base, "url": _url("company"), "name": lambda c: c[1], "displayName": lambda c: c[1],
            "organizationNumber": lambda c: c[2], "type": lambda c: "AS",
        }, {}),
        "LoggedInUserInfo": Entity("token/session/>whoAmI", {
            "employeeId": lambda w: EMPLOYEE_ID, "actualEmployeeId": lambda w: EMPLOYEE_ID,
            "companyId": lambda w: int(w[0]), "language": lambda w: "no", "loggedInWithConnect": lambda w: False,
            "employeeIsProxy": lambda w: False,
        }, {"company": (lambda w: w, lambda w: w, "Company")}),
        "SessionToken": Entity("token/session", {
            **base, "url": _url("token/session"), "expirationDate": lambda t: t[1], "token": lambda t: t[2],
        }, {}),
    })


# -- the app -------------------------------------------------------------------------------


@dataclass
class Session:
    token: str
    expires: date


def rate_headers(grant: Grant) -> Headers:
    return [(b"x-rate-limit-limit", str(grant.limit).encode()),
            (b"x-rate-limit-remaining", str(grant.remaining).encode()),
            (b"x-rate-limit-reset", str(grant.reset).encode())]


class TripletexSandbox:
    """The state behind the app: books, sessions, rate budget and a cache of posting windows."""

    def __init__(self, books: SyntheticBooks, *, consumer_token: str, employee_token: str, accountant: bool,
                 max_result_size: int, rate_limit: int, rate_period: float, clock: Callable[[], float],
                 today: Callable[[], date]) -> None:
        self.books = books
        self.live = LiveMutations(books)
        self.consumer_token = consumer_token
        self.employee_token = employee_token
        self.accountant = accountant
        self.max_result_size = max_result_size
        self.rate = FixedWindows(rate_limit, rate_period, clock)
        self.today = today
        self.schema = build_schema(books)
        self.sessions: dict[str, Session] = {}
        self.companies = {c.erp_id: c for c in books.companies()}
        self.own_company = (CompanyInfo(str(ACCOUNTANT_OFFICE_ID), "Regnskapskontoret AS", "999000111")
                            if accountant else books.companies()[0])
        self.windows: OrderedDict[tuple, Future] = OrderedDict()
        self.windows_lock = threading.Lock()
        self.ahead = ThreadPoolExecutor(1, thread_name_prefix="sandbox-window")
        self.requests = itertools.count(1)
        self.ignore_from = False  # a fault tests switch on: list pages ignore ``from``

    def expire_sessions(self) -> None:
        """Invalidate every session token, as midnight of the expiration date does."""
        self.sessions.clear()

    # -- auth ---------------------------------------------------------------------------

    def create_session(self, params: dict[str, str]) -> tuple:
        missing = [{"field": name, "message": "Feltet må fylles ut."}
                   for name in ("consumerToken", "employeeToken", "expirationDate") if not params.get(name)]
        if missing:
            raise ApiFailure(422, 21000, "Validering feilet.", missing)
        if params["consumerToken"] != self.consumer_token:
            raise ApiFailure(401, 3000, "Invalid consumer token",
                             [{"field": "consumerToken", "message": "Ugyldig token."}])
        if params["employeeToken"] != self.employee_token:
            raise ApiFailure(401, 3000, "Invalid employee token",
                             [{"field": "employeeToken", "message": "Ugyldig token."}])
        try:
            expires = date.fromisoformat(params["expirationDate"])
        except ValueError:
            expires = None
        if expires is None or expires <= self.today():
            raise ApiFailure(422, 15000, "Validering feilet.",
                             [{"field": "expirationDate", "message": "Datoen må være etter i dag."}])
        token = f"eyJ0b2tlbklkIjo{secrets.token_hex(8)}-{secrets.token_hex(8)}"
        self.sessions[token] = Session(token, expires)
        return (len(self.sessions), expires.isoformat(), token)

    def authorize(self, request: Request, *, login_only: bool) -> str:
        """The company id the request acts for, after checking its Basic credentials."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, token = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            raise ApiFailure(401, 3000, "Unauthorized") from None
        if scheme.lower() != "basic":
            raise ApiFailure(401, 3000, "Unauthorized")
        session = self.sessions.get(token)
        if session is None or session.expires <= self.today():
            raise ApiFailure(401, 3000, "Unauthorized")
        if user in ("", "0"):
            # Tripletex's authentication page: "An accountants session token authenticated with
            # username 0 will only have access to GET company/>withLoginAccess and GET token/session/>whoAmI".
            if self.accountant and not login_only:
                raise ApiFailure(403, 9000, "An accountant's session with company 0 may only list clients")
            return self.own_company.erp_id
        if not self.accountant or user not in self.companies:
            raise ApiFailure(403, 9000, f"No access to company {user}")
        return user

    # -- postings -----------------------------------------------------------------------

    def window_postings(self, company: str, date_from: date, date_to: date) -> list[tuple]:
        """The postings of a window, kept for the pages that follow; 23000 when there are too many.

        Clients walk a history a year at a time, so once a calendar year is asked
        for, the next one is generated in the background while its pages are served.
        """
        key = (company, date_from, date_to, self.live.version())
        with self.windows_lock:
            window = self.windows.get(key)
            if window is None:
                window = self.windows[key] = Future()
                owner = True
            else:
                owner = False
            self.windows.move_to_end(key)
            while len(self.windows) > 3:
                self.windows.popitem(last=False)
        if owner:
            self._generate(window, company, date_from, date_to)
        if date_from.month == date_from.day == 1 and date_to == date(date_from.year + 1, 1, 1):
            following = (company, date_to, date(date_to.year + 1, 1, 1), key[3])
            with self.windows_lock:
                if following not in self.windows and date_to <= self.books.end:
                    self.windows[following] = Future()
                    self.windows.move_to_end(key)
                    self.ahead.submit(self._generate, self.windows[following], company, *following[1:3])
        return window.result()

    def _generate(self, window: Future, company: str, date_from: date, date_to: date) -> None:
        rows: list[tuple] = []
        enabled = gc.isenabled()
        gc.disable()  # a window's tuples would otherwise trigger collections scanning the whole books
        try:
            if date_to > date_from:
                for batch in self.books.postings_in(company, Window(date_from, date_to)):
                    rows.extend(batch)
                    if len(rows) > self.max_result_size:
                        raise ApiFailure(422, 23000, "Result Set Too Large")
        except BaseException as exc:
            window.set_exception(exc)
        else:
            window.set_result(rows)
        finally:
            if enabled:
                gc.enable()


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(params.get(name, default))
    except ValueError:
        raise ApiFailure(422, 21000, f"Illegal value for parameter {name}") from None
    if value < 0:
        raise ApiFailure(422, 21000, f"Illegal value for parameter {name}")
    return value


def _bool_param(params: dict[str, str], name: str, default: bool) -> bool:
    value = params.get(name, "").lower()
    if value not in ("", "true", "false"):
        raise ApiFailure(422, 21000, f"Illegal value for parameter {name}")
    return default if not value else value == "true"


def _date_param(params: dict[str, str], name: str) -> date:
    try:
        return date.fromisoformat(params[name])
    except (KeyError, ValueError):
        raise ApiFailure(422, 21000, "Validering feilet.",
                         [{"field": name, "message": "Feltet må fylles ut med en gyldig dato."}]) from None


def _list(schema: Schema, entity: str, items: list, params: dict[str, str], *, ignore_from: bool = False) -> bytes:
    """A ``ListResponse`` written directly as JSON: the envelope around each object's bytes.

    ``fullResultSize`` is inexact, as the spec warns: rounded up to a thousand.
    ``ignore_from`` is a fault: every request gets the first page.
    """
    start = 0 if ignore_from else _int_param(params, "from", 0)
    count = _int_param(params, "count", 1000)
    members = schema.compile_members(entity, parse_fields(params.get("fields", "")))
    enabled = gc.isenabled()
    gc.disable()  # the memos' objects would otherwise trigger collections that scan the whole books
    try:
        values = [b"{" + m[1:] + b"}" for m in members(items[start:start + count])]
    finally:
        if enabled:
            gc.enable()
    head = orjson.dumps({"fullResultSize": -(-len(items) // 1000) * 1000, "from": start, "count": len(values),
                         "versionDigest": "'If-None-Match' header not specified"})
    return b"".join((head[:-1], b',"values":[', b",".join(values), b"]}"))


def tripletex_app(books: SyntheticBooks, *, consumer_token: str, employee_token: str, accountant: bool,
                  faults: str | None = None, fault_seed: int = 7, max_result_size: int = 500_000,
                  rate_limit: int = 100_000, rate_period: float = 60.0, clock: Callable[[], float] = time.monotonic,
                  today: Callable[[], date] = date.today) -> Starlette | FaultInjector:
    """The Tripletex sandbox over ``books``; ``app.state.sandbox`` holds its state.

    With ``accountant`` the employee token belongs to an accounting office
    whose clients are the books' companies; otherwise it belongs to the
    first company. ``clock`` drives the rate budget so that tests can share
    a fake clock with the client's sleep.
    """
    sandbox = TripletexSandbox(books, consumer_token=consumer_token, employee_token=employee_token,
                               accountant=accountant, max_result_size=max_result_size, rate_limit=rate_limit,
                               rate_period=rate_period, clock=clock, today=today)
    schema = sandbox.schema

    def endpoint(handler: Callable[[Request, dict[str, str]], Any], *, auth: str = "data") -> Callable:
        async def respond(request: Request) -> Response:
            request_id = f"sandbox-{next(sandbox.requests)}"
            grant = sandbox.rate.take()
            head = {"x-tlx-request-id": request_id, **{k.decode(): v.decode() for k, v in rate_headers(grant)}}
            if not grant.allowed:
                return Response(api_error_body(429, 0, "Too Many Requests", request_id), 429, head,
                                media_type="application/json")
            params = dict(request.query_params)
            try:
                company = None if auth == "none" else sandbox.authorize(request, login_only=auth == "login")
                body = handler(company, params)
            except ApiFailure as failure:
                return Response(api_error_body(failure.status, failure.code, failure.message, request_id,
                                               failure.validation), failure.status, head,
                                media_type="application/json")
            content = body if isinstance(body, bytes) else orjson.dumps(body)
            return Response(content, 200, head, media_type="application/json")

        return respond

    def session_create(_company: None, params: dict[str, str]) -> dict:
        return {"value": schema.compile("SessionToken", parse_fields(params.get("fields", "")))(
            sandbox.create_session(params))}

    def who_am_i(company: str, params: dict[str, str]) -> dict:
        info = sandbox.own_company if company == sandbox.own_company.erp_id else sandbox.companies[company]
        build = schema.compile("LoggedInUserInfo", parse_fields(params.get("fields", "")))
        return {"value": build((info.erp_id, info.name, info.organization_number))}

    def with_login_access(company: str, params: dict[str, str]) -> bytes:
        clients = [(c.erp_id, c.name, c.organization_number) for c in sandbox.companies.values()]
        return _list(schema, "Client", clients if sandbox.accountant else [], params)

    def postings(company: str, params: dict[str, str]) -> bytes:
        date_from, date_to = _date_param(params, "dateFrom"), _date_param(params, "dateTo")
        return _list(schema, "Posting", sandbox.window_postings(company, date_from, date_to), params,
                     ignore_from=sandbox.ignore_from)

    def dimension(name: str, entity: str, contacts: bool = False) -> Callable:
        """``contacts`` (customers, suppliers) take ``changedSince`` and default to ``isInactive=false``."""

        def handler(company: str, params: dict[str, str]) -> bytes:
            rows = books.dimension(name)
            if contacts:
                inactive = _bool_param(params, "isInactive", False)
                rows = [row for row in rows if is_inactive(row) == inactive]
            if contacts and params.get("changedSince"):
                # The synthetic master data was last changed when the books begin.
                since = params["changedSince"].rstrip("Z")
                try:
                    changed = date.fromisoformat(since[:10]) <= books.start
                except ValueError:
                    raise ApiFailure(422, 21000, "Illegal value for parameter changedSince") from None
                rows = rows if changed else []
            return _list(schema, entity, rows, params, ignore_from=sandbox.ignore_from)

        return handler

    routes = [
        Route("/v2/token/session/:create", endpoint(session_create, auth="none"), methods=["PUT"]),
        Route("/v2/token/session/>whoAmI", endpoint(who_am_i, auth="login"), methods=["GET"]),
        Route("/v2/company/>withLoginAccess", endpoint(with_login_access, auth="login"), methods=["GET"]),
        Route("/v2/ledger/posting", endpoint(postings), methods=["GET"]),
        Route("/v2/ledger/account", endpoint(dimension("accounts", "Account")), methods=["GET"]),
        Route("/v2/department", endpoint(dimension("departments", "Department")), methods=["GET"]),
        Route("/v2/project", endpoint(dimension("projects", "Project")), methods=["GET"]),
        Route("/v2/customer", endpoint(dimension("customers", "Customer", contacts=True)), methods=["GET"]),
        Route("/v2/supplier", endpoint(dimension("suppliers", "Supplier", contacts=True)), methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox
    if faults:
        return FaultInjector(app, faults, FAULT_STYLE, seed=fault_seed)
    return app


#: The made-up tokens a sandbox accepts unless given others.
DEFAULT_CONSUMER_TOKEN = "sandbox-consumer-token"
DEFAULT_EMPLOYEE_TOKEN = "sandbox-employee-token"


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> Starlette | FaultInjector:
    return tripletex_app(
        books,
        consumer_token=options.get("consumer_token", DEFAULT_CONSUMER_TOKEN),
        employee_token=options.get("employee_token", DEFAULT_EMPLOYEE_TOKEN),
        accountant=options.get("accountant", "true").lower() == "true",
        faults=faults,
        max_result_size=int(options.get("max_result_size", 500_000)),
    )


def _login(base_url: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    return ({"base_url": f"{base_url}/v2"},
            {"consumer_token": options.get("consumer_token", DEFAULT_CONSUMER_TOKEN),
             "employee_token": options.get("employee_token", DEFAULT_EMPLOYEE_TOKEN)})


SANDBOX = SandboxErp(app=_app, login=_login)
