"""A Business NXT emulator over the synthetic books: GraphQL on ``/api/graphql-service``, Visma Connect tokens.

Every query is parsed and validated by graphql-core against the SDL written
from Business NXT's documentation (:mod:`osr_sandbox.businessnxt_schema`) and
then answered by walking its selection: ``availableCompanies``; company tables
under ``useCompany(no:)`` with ``filter`` (``_and``/``_or`` and the column
operators), ``first``/``after`` cursors, ``totalCount``, ``pageInfo`` and
``items`` (no ``edges``); ``groupBy`` with ``aggregates``, which cannot be
paged (``after`` with ``groupBy`` is an error, as the docs say), under aliases.

Grouped sums are computed here, as Business NXT computes them in SQL: each
day's and month's debit and credit per account are summed once and kept
(until the books change), so a trial balance over a million postings adds up
a few hundred numbers instead of reading the postings again.

Failures take Business NXT's shapes: a missing, expired or unknown token is
HTTP 401 with nginx's HTML page; everything else is HTTP 200 with ``errors``
(and ``data`` null where nothing could be answered); more than
``rate_limit`` requests a minute per token is HTTP 429 from the gateway.

The books' posting ids are split into journal (``voucherJournalNo``, the id
without its last five digits) and entry (``entryNo``, those digits); the
department is org unit 1 and the project org unit 2, so the connector's
default options map the rows back to the books'.

``changedTimestamp`` is when a row was last created or changed, in the
server's local time and written ``yyyy-MM-dd HH:mm:ss[.nnnnnnn]``: the books'
moment (a day's lines are entered on that day), or the moment a test entered
the day's vouchers late (``sandbox.late.touch``). A row untouched since before
the timestamps were introduced (9 October 2024) has none (null), as the docs
say of rows that existed then.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import orjson
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values, get_variable_values
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osr_pipelines.connectors.synthetic_books import ACCOUNTS, DEPARTMENTS, PROJECTS, SyntheticBooks
from osr_sandbox.businessnxt_schema import SDL
from osr_sandbox.server import (
    BearerTokens,
    FaultInjector,
    FaultStyle,
    FixedWindows,
    LateEntries,
    LiveMutations,
    SandboxErp,
)

PATH = "/api/graphql-service"
SCOPES = frozenset({"business-graphql-service-api:access-group-based",
                    "business-graphql-service-api:access-group-based-readonly"})
DEFAULT_CLIENT_ID = "sandbox-bnxt-client"
DEFAULT_CLIENT_SECRET = "sandbox-bnxt-secret"
CUSTOMER_ID = 4_200_001
UNAUTHORIZED = (b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 "
                b"Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_CURRENCY = {"NOK": 578, "EUR": 978}
#: [BNXT-RN] 2024-10-09: createdTimestamp and changedTimestamp on all tables, "not available for already existing
#: rows, only for new or modified rows after the release date" [BNXT-DATE].
TIMESTAMPS_SINCE = datetime(2024, 10, 9)
#: [BNXT-DATE]: timestamps are "the local time of the server" without a zone; which zone is not documented
#: (GUESS: Norway's, where Business NXT is run).
SERVER_ZONE = ZoneInfo("Europe/Oslo")
#: [BNXT-DATE]: a timestamp is written ``yyyy-MM-dd HH:mm:ss[.nnnnnnn]``.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,7})?")
_SCHEMA: GraphQLSchema = build_schema(SDL)


class Failure(Exception):
    """A GraphQL ``errors`` answer (HTTP 200 unless ``status`` says otherwise)."""

    def __init__(self, message: str, path: list[str | int] | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"message": message}
        if path:
            self.error["path"] = path
        self.data = data


def errors_body(errors: list[dict], data: Any = None) -> bytes:
    return orjson.dumps({"errors": errors, "data": data})


def _error(exc: GraphQLError) -> dict:
    formatted = exc.formatted
    return {k: v for k, v in formatted.items() if k in ("message", "locations", "path")}


#: The gateway's 429 carries no documented Retry-After or rate headers, so the sandbox's carries none:
#: clients back off on their own.
FAULT_STYLE = FaultStyle(error_body=lambda status, message: errors_body([{"message": message}]),
                         rate_limit_headers=lambda reset: [])


# -- rows ----------------------------------------------------------------------------------------


def _int(value: str | None) -> int:
    return int(value) if value else 0


#: Org units the books leave empty: 0 in the integer ones, blank in the text ones.
_UNUSED_ORG_UNITS = {**{f"orgUnit{n}": 0 for n in range(3, 7)}, **{f"orgUnit{n}": "" for n in range(7, 13)}}


def changed_timestamp(moment: datetime) -> str | None:
    """The ``changedTimestamp`` of a row last created or changed at ``moment`` (aware, or naive in the server's
    own time): the server's local time as Business NXT writes it, or ``None`` before the timestamps existed."""
    local = moment.astimezone(SERVER_ZONE).replace(tzinfo=None) if moment.tzinfo else moment
    if local < TIMESTAMPS_SINCE:
        return None
    # datetime2 keeps seven fractional digits; Python's datetime six
    return f"{local:%Y-%m-%d %H:%M:%S}" + (f".{local.microsecond:06d}0" if local.microsecond else "")


@lru_cache(maxsize=4096)
def _books_timestamp(changed: str) -> str | None:
    """``changed_timestamp`` of the books' own moment (``YYYY-MM-DDTHH:MM:SS``, read as the server's time)."""
    return changed_timestamp(datetime.fromisoformat(changed))


def transaction(row: tuple, changed: str | None) -> dict[str, Any]:
    """One books posting as an ``AcTr`` row under its API names, ``changed`` its ``changedTimestamp``."""
    posting = int(row[0])
    day = int(row[2].replace("-", ""))
    out = _UNUSED_ORG_UNITS.copy()
    out.update(voucherJournalNo=posting // 100_000, entryNo=posting % 100_000, accountNo=int(row[4]),
               voucherNo=int(row[1]), voucherDate=day, year=day // 10_000, period=day // 100 % 100,
               postedAmountDomestic=row[5], currencyNo=_CURRENCY.get(row[6], 0), currencyAmount=row[7],
               text=row[8], orgUnit1=_int(row[9]), orgUnit2=_int(row[10]), customerNo=_int(row[11]),
               supplierNo=_int(row[12]), changedTimestamp=changed)
    return out


def tables(books: SyntheticBooks) -> dict[str, list[dict]]:
    """The company tables other than ``generalLedgerTransaction`` (the same for every company)."""
    parties = [{"associateNo": i + 1, "customerNo": int(c[0]), "supplierNo": 0, "name": c[2],
                "organisationNo": c[3]} for i, c in enumerate(books.dimension("customers"))]
    parties += [{"associateNo": len(parties) + i + 1, "customerNo": 0, "supplierNo": int(s[0]), "name": s[2],
                 "organisationNo": s[3]} for i, s in enumerate(books.dimension("suppliers"))]
    return {
        "generalLedgerAccount": [{"accountNo": int(n), "name": name, "accountGroup": group.split(" ", 1)[0]}
                                 for n, name, _kind, group in ACCOUNTS],
        "associate": parties,
        "orgUnit1": [{"orgUnitNo": i + 1, "name": name} for i, name in enumerate(DEPARTMENTS)],
        "orgUnit2": [{"orgUnitNo": i + 1, "name": name} for i, name in enumerate(PROJECTS)],
        **{f"orgUnit{n}": [] for n in range(3, 13)},
    }


# -- filters ---------------------------------------------------------------------------------------

_DATE_OPS = {"_eq", "_gt", "_gte", "_lt", "_lte"}


def _moment(value: Any) -> datetime:
    """A DateTime operand or value as a datetime. Only the documented form is read: whether Business NXT also
    reads ISO 8601's ``2024-10-01T12:45:33`` is not documented, so a client must not rely on it."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        raise Failure(f"{orjson.dumps(value).decode()} is not a DateTime value: write it "
                      "yyyy-MM-dd HH:mm:ss[.nnnnnnn], in the server's local time.")
    return datetime.fromisoformat(value)


def _compare(field: str, op: str, operand: Any) -> Callable[[dict], bool]:
    timestamp = field.endswith("Timestamp")
    if timestamp:
        operand = [_moment(v) for v in operand] if isinstance(operand, list) else _moment(operand)
    if op == "_like":
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in str(operand).split("%")) + "$", re.S)
        return lambda r: r.get(field) is not None and bool(pattern.match(str(r[field])))
    test: Callable[[Any], bool] = {
        "_eq": lambda v: v == operand, "_not_eq": lambda v: v != operand, "_gt": lambda v: v > operand,
        "_gte": lambda v: v >= operand, "_lt": lambda v: v < operand, "_lte": lambda v: v <= operand,
        "_in": lambda v: v in operand, "_not_in": lambda v: v not in operand,
    }[op]

    def check(row: dict) -> bool:
        value = row.get(field)
        if value is None:  # SQL NULL (a row without a timestamp, say): no comparison holds
            return False
        return test(_moment(value) if timestamp else value)

    return check


def predicate(filter_: Mapping[str, Any] | None) -> Callable[[dict], bool]:
    parts: list[Callable[[dict], bool]] = []
    for key, value in (filter_ or {}).items():
        if key in ("_and", "_or"):
            subs = [predicate(f) for f in value]
            parts.append((lambda s: lambda r: all(p(r) for p in s))(subs) if key == "_and"
                         else (lambda s: lambda r: any(p(r) for p in s))(subs))
        else:
            parts.extend(_compare(key, op, operand) for op, operand in value.items())
    return lambda row: all(p(row) for p in parts)


def _leaves(filter_: Mapping[str, Any] | None) -> Iterator[tuple[str, str, Any]] | None:
    """The ``(field, op, operand)`` conditions of a filter that only ANDs them, else ``None``."""
    out = []
    for key, value in (filter_ or {}).items():
        if key == "_or":
            return None
        if key == "_and":
            for sub in value:
                inner = _leaves(sub)
                if inner is None:
                    return None
                out.extend(inner)
        else:
            out.extend((key, op, operand) for op, operand in value.items())
    return iter(out)


def day_bounds(filter_: Mapping[str, Any] | None) -> tuple[int, int]:
    """The ``yyyymmdd`` numbers a filter's ANDed voucherDate conditions allow, as an inclusive range."""
    low, high = 0, 99_999_999
    for field, op, operand in _leaves(filter_) or ():
        if field != "voucherDate" or op not in _DATE_OPS:
            continue
        if op in ("_gte", "_eq", "_gt"):
            low = max(low, operand + (op == "_gt"))
        if op in ("_lte", "_eq", "_lt"):
            high = min(high, operand - (op == "_lt"))
    return low, high


def _side(filter_: Mapping[str, Any] | None) -> str | None:
    """``debit``, ``credit`` or ``both`` when the filter holds only voucherDate bounds and a sign of
    ``postedAmountDomestic`` (the sums kept per day answer it); ``None`` when it needs the rows."""
    leaves = _leaves(filter_)
    if leaves is None:
        return None
    side = "both"
    for field, op, operand in leaves:
        if field == "voucherDate" and op in _DATE_OPS:
            continue
        if field == "postedAmountDomestic" and operand == 0 and op in ("_gt", "_gte", "_lt", "_lte"):
            wanted = "debit" if op in ("_gt", "_gte") else "credit"
            if side not in ("both", wanted):
                return None
            side = wanted
            continue
        return None
    return side


# -- cursors -------------------------------------------------------------------------------------------


def cursor(*parts: int) -> str:
    return base64.b64encode(":".join(map(str, parts)).encode()).decode()


def uncursor(value: str, size: int) -> tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in base64.b64decode(value, validate=True).decode().split(":"))
    except (ValueError, UnicodeDecodeError):
        raise Failure(f"The cursor '{value}' is not valid.") from None
    if len(parts) != size:
        raise Failure(f"The cursor '{value}' is not valid.")
    return parts


@dataclass
class DaySums:
    """One day of one company: its posting count and debit/credit per account."""

    count: int
    accounts: dict[int, list[float]]


@dataclass
class Table:
    """A table answer before its selection is applied."""

    items: list[dict]
    total: int | None = None
    more: bool = False
    end: str | None = None


class BusinessNxtSandbox:
    """The state behind the app: tokens, rate windows, parsed queries and the per-day sums."""

    def __init__(self, books: SyntheticBooks, *, client_id: str, client_secret: str, rate_limit: int,
                 token_seconds: int, clock: Callable[[], float]) -> None:
        self.books = books
        self.client_id, self.client_secret = client_id, client_secret
        self.token_seconds = token_seconds
        self.tokens = BearerTokens(clock, prefix="bnxt-")
        self.rate = FixedWindows(rate_limit, 60.0, clock)
        self.live = LiveMutations(books)
        #: vouchers entered late: their rows' changedTimestamp is when, not their day's
        self.late = LateEntries()
        self.tables = tables(books)
        self.companies = {int(c.erp_id): c for c in books.companies()}
        self.requests = 0
        self.queries: list[str] = []
        #: errors to answer instead of the next requests (tests), each ``(message, path)``
        self.pending: list[tuple[str, list[str | int] | None]] = []
        self._parsed: dict[str, tuple[Any, list[dict]]] = {}
        self._sums: dict[tuple[int, date], DaySums] = {}
        self._months: dict[tuple[int, date], dict[int, list[float]]] = {}
        self._version: Any = object()
        self._lock = threading.Lock()

    # -- auth -----------------------------------------------------------------------------------------

    def issue_token(self, form: Mapping[str, str]) -> tuple[int, dict]:
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 400, {"error": "invalid_client"}
        if form.get("scope") not in SCOPES:
            return 400, {"error": "invalid_scope"}
        token = self.tokens.issue(form["client_id"], self.token_seconds)
        return 200, {"access_token": token, "expires_in": self.token_seconds, "token_type": "Bearer",
                     "scope": form["scope"]}

    # -- queries ----------------------------------------------------------------------------------------

    def parsed(self, query: str) -> tuple[Any, list[dict]]:
        found = self._parsed.get(query)
        if found is None:
            try:
                document = parse(query)
            except GraphQLError as exc:
                found = (None, [_error(exc)])
            else:
                found = (document, [_error(e) for e in validate(_SCHEMA, document)])
            self._parsed[query] = found
        return found

    def answer(self, body: Any) -> bytes:
        with self._lock:
            return self._answer(body)

    def _answer(self, body: Any) -> bytes:
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return errors_body([{"message": "The request body must be a JSON object with a 'query' string."}])
        self.requests += 1
        self.queries.append(body["query"])
        if self.pending:
            message, path = self.pending.pop(0)
            return errors_body([{"message": message, **({"path": path} if path else {})}])
        document, problems = self.parsed(body["query"])
        if problems:
            return errors_body(problems)
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            return errors_body([{"message": "Send exactly one query operation."}])
        operation = operations[0]
        coerced = get_variable_values(_SCHEMA, operation.variable_definitions or (), body.get("variables") or {})
        if isinstance(coerced, list):
            return errors_body([_error(e) for e in coerced])
        self._refresh()
        data: dict[str, Any] = {}
        try:
            for node in _fields(operation.selection_set):
                data[_key(node)] = self._root(node, coerced)
        except Failure as failure:
            return errors_body([failure.error], failure.data)
        return orjson.dumps({"data": data})

    def _refresh(self) -> None:
        version = self.live.version()
        if version != self._version:
            self._sums.clear()
            self._months.clear()
            self._version = version

    def _root(self, node: FieldNode, variables: dict) -> Any:
        definition = _SCHEMA.query_type.fields[node.name.value]
        args = get_argument_values(definition, node, variables)
        if node.name.value == "availableCompanies":
            rows = [{"name": c.name, "vismaNetCompanyId": no, "vismaNetCustomerId": CUSTOMER_ID}
                    for no, c in sorted(self.companies.items())]
            if args.get("customerNo") is not None:
                rows = [r for r in rows if r["vismaNetCustomerId"] == args["customerNo"]]
            return _select(node, self._listing(rows, args))
        company = args["no"]
        if company not in self.companies:
            raise Failure(f"Company {company} is not available to the user.", ["useCompany"], {"useCompany": None})
        out: dict[str, Any] = {}
        for table in _fields(node.selection_set):
            table_args = get_argument_values(_SCHEMA.get_type("Query_UseCompany").fields[table.name.value], table,
                                             variables)
            path = ["useCompany", _key(table)]
            if table.name.value == "generalLedgerTransaction":
                answer = self._transactions(company, table, table_args, path)
            else:
                rows = [r for r in self.tables[table.name.value] if predicate(table_args.get("filter"))(r)]
                answer = self._listing(rows, table_args)
            out[_key(table)] = _select(table, answer)
        return out

    def _listing(self, rows: list[dict], args: Mapping[str, Any]) -> Table:
        _unsupported(args)
        start = uncursor(args["after"], 1)[0] + 1 if args.get("after") else 0
        first = _first(args)
        page = rows[start:start + first]
        end = start + len(page) - 1
        return Table(page, len(rows), end + 1 < len(rows), cursor(end) if page else None)

    # -- general-ledger transactions -----------------------------------------------------------------------

    def _days(self, filter_: Mapping[str, Any] | None) -> Iterator[date]:
        """The books' days a filter's voucherDate bounds allow, in order."""
        low, high = day_bounds(filter_)
        day = self.books.start
        while day <= self.books.end:
            if low <= day.year * 10_000 + day.month * 100 + day.day <= high:
                yield day
            day += timedelta(days=1)

    def _day_rows(self, company: int, day: date) -> list[dict]:
        rows = self.books.day_postings(str(company), day)
        late = self.late.at(str(company), day.isoformat())
        if late is not None:
            stamp = changed_timestamp(late)
            return [transaction(r, stamp) for r in rows]
        return [transaction(r, _books_timestamp(r[16])) for r in rows]

    def sums(self, company: int, day: date) -> DaySums:
        found = self._sums.get((company, day))
        if found is None:
            accounts: dict[int, list[float]] = {}
            rows = self.books.day_postings(str(company), day)
            for r in rows:
                pair = accounts.setdefault(int(r[4]), [0.0, 0.0])
                pair[0 if r[5] >= 0 else 1] += r[5]
            found = self._sums[(company, day)] = DaySums(len(rows), accounts)
        return found

    def _spans(self, company: int, filter_: Mapping[str, Any] | None) -> Iterator[tuple[tuple[int, int], dict]]:
        """Debit and credit per account of each month (or day, at a month the bounds cut) the filter allows."""
        days = list(self._days(filter_))
        by_month: dict[tuple[int, int], list[date]] = {}
        for day in days:
            by_month.setdefault((day.year, day.month), []).append(day)
        for (year, month), chosen in by_month.items():
            whole = self._month_days(year, month)
            if len(chosen) == len(whole):
                yield (year, month), self._month(company, year, month, whole)
            else:
                for day in chosen:
                    yield (year, month), self.sums(company, day).accounts

    def _month_days(self, year: int, month: int) -> list[date]:
        """The books' days of a month."""
        first = max(date(year, month, 1), self.books.start)
        after = date(year + month // 12, month % 12 + 1, 1)
        return [first + timedelta(days=n) for n in range((min(after, self.books.end + timedelta(days=1))
                                                          - first).days)]

    def _month(self, company: int, year: int, month: int, days: list[date]) -> dict[int, list[float]]:
        key = (company, date(year, month, 1))
        found = self._months.get(key)
        if found is None:
            found = {}
            for day in days:
                for account, (debit, credit) in self.sums(company, day).accounts.items():
                    pair = found.setdefault(account, [0.0, 0.0])
                    pair[0] += debit
                    pair[1] += credit
            self._months[key] = found
        return found

    def _transactions(self, company: int, node: FieldNode, args: Mapping[str, Any], path: list) -> Table:
        if args.get("groupBy") is not None:
            return self._grouped(company, node, args, path)
        _unsupported(args)
        if args.get("orderBy"):
            raise Failure("The sandbox returns transactions in voucher date order only; leave out orderBy.", path)
        filter_ = args.get("filter")
        # voucherDate bounds alone already chose the days read: no row needs testing then
        keep = None if _side(filter_) == "both" else predicate(filter_)
        first = _first(args)
        start_day, skip = uncursor(args["after"], 2) if args.get("after") else (0, 0)
        items: list[dict] = []
        end: str | None = None
        more = False
        for day in self._days(filter_):
            number = day.year * 10_000 + day.month * 100 + day.day
            if number < start_day:
                continue
            rows = self._day_rows(company, day)
            if keep is not None:
                rows = [r for r in rows if keep(r)]
            offset = skip if number == start_day else 0
            room = first - len(items)
            if room <= 0:
                if len(rows) > offset:
                    more = True
                    break
                continue
            taken = rows[offset:offset + room]
            items.extend(taken)
            if taken:
                end = cursor(number, offset + len(taken))
            if offset + len(taken) < len(rows):
                more = True
                break
        total = None
        if "totalCount" in _selected(node):
            if keep is None:
                total = sum(self.sums(company, day).count for day in self._days(filter_))
            else:
                total = sum(1 for day in self._days(filter_) for r in self._day_rows(company, day) if keep(r))
        return Table(items, total, more, end)

    def _grouped(self, company: int, node: FieldNode, args: Mapping[str, Any], path: list) -> Table:
        if args.get("after") or args.get("before") or args.get("last") or args.get("skip"):
            raise Failure("Pagination does not work with grouping (groupBy and having arguments).", path)
        groups = tuple(field for spec in args["groupBy"] for field in spec)
        wanted = _aggregates(node)
        filter_ = args.get("filter")
        side = _side(filter_)
        totals: dict[tuple, dict[str, dict[str, float]]] = {}
        if side is not None and set(groups) <= {"accountNo", "year", "period"} and \
                wanted <= {("sum", "postedAmountDomestic")}:
            for (year, month), accounts in self._spans(company, filter_):
                for account, (debit, credit) in accounts.items():
                    value = {"debit": debit, "credit": credit, "both": debit + credit}[side]
                    row = {"accountNo": account, "year": year, "period": month}
                    key = tuple(row[g] for g in groups)
                    entry = totals.setdefault(key, {"sum": {"postedAmountDomestic": 0.0}})
                    entry["sum"]["postedAmountDomestic"] += value
        else:
            keep = predicate(filter_)
            collected: dict[tuple, list[dict]] = {}
            for day in self._days(filter_):
                for r in self._day_rows(company, day):
                    if keep(r):
                        collected.setdefault(tuple(r[g] for g in groups), []).append(r)
            for key, rows in collected.items():
                entry: dict[str, dict[str, float]] = {}
                for function, field in wanted:
                    values = [r[field] for r in rows if r.get(field) is not None]
                    entry.setdefault(function, {})[field] = _aggregate(function, values)
                totals[key] = entry
        items = [{**dict(zip(groups, key, strict=True)),
                  "aggregates": {fn: {f: v if v is None or fn == "count" else round(v, 2) for f, v in values.items()}
                                 for fn, values in entry.items()}}
                 for key, entry in sorted(totals.items())]
        if args.get("first") is not None:
            items = items[:_first(args)]
        return Table(items, len(items), False, None)


def _aggregate(function: str, values: list) -> float | None:
    if function == "count":
        return len(values)
    if not values:
        return None
    if function == "sum":
        return round(sum(values), 2)
    if function == "average":
        return sum(values) / len(values)
    return min(values) if function == "minimum" else max(values)


def _first(args: Mapping[str, Any]) -> int:
    first = args.get("first")
    if first is None:
        return 1000
    if first < 1:
        raise Failure("The value of 'first' must be a positive integer.")
    return first


def _unsupported(args: Mapping[str, Any]) -> None:
    for name in ("last", "before", "skip"):
        if args.get(name) is not None:
            raise Failure(f"The sandbox pages forward only: '{name}' is not supported here.")


def _fields(selection_set: Any) -> list[FieldNode]:
    return [s for s in (selection_set.selections if selection_set else ()) if isinstance(s, FieldNode)]


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _selected(node: FieldNode) -> set[str]:
    return {f.name.value for f in _fields(node.selection_set)}


def _aggregates(node: FieldNode) -> set[tuple[str, str]]:
    """``(function, field)`` pairs asked under ``items { aggregates { ... } }``."""
    out = set()
    for part in _fields(node.selection_set):
        if part.name.value == "items":
            for field in _fields(part.selection_set):
                if field.name.value == "aggregates":
                    for function in _fields(field.selection_set):
                        out.update((function.name.value, f.name.value) for f in _fields(function.selection_set))
    return out


def _select(node: FieldNode, table: Table) -> dict[str, Any]:
    """The connection object ``node`` asks for: ``totalCount``, ``pageInfo`` and ``items`` as selected."""
    out: dict[str, Any] = {}
    for part in _fields(node.selection_set):
        name = part.name.value
        if name == "totalCount":
            out[_key(part)] = table.total if table.total is not None else len(table.items)
        elif name == "pageInfo":
            info = {"hasNextPage": table.more, "hasPreviousPage": False,
                    "startCursor": None, "endCursor": table.end}
            out[_key(part)] = {_key(f): info[f.name.value] for f in _fields(part.selection_set)}
        elif name == "items":
            out[_key(part)] = _items(part, table.items)
    return out


def _items(node: FieldNode, rows: list[dict]) -> list[dict[str, Any]]:
    """``items`` as selected: the selection is read once, then each row is a dict comprehension."""
    fields = _fields(node.selection_set)
    plain = [(_key(f), f.name.value) for f in fields if f.name.value != "aggregates"]
    wanted = [(_key(f), [(_key(fn), fn.name.value, [(_key(c), c.name.value) for c in _fields(fn.selection_set)])
                         for fn in _fields(f.selection_set)])
              for f in fields if f.name.value == "aggregates"]
    if not wanted:
        return [{key: row.get(name) for key, name in plain} for row in rows]

    def item(row: dict) -> dict[str, Any]:
        out = {key: row.get(name) for key, name in plain}
        sums = row.get("aggregates", {})
        for key, functions in wanted:
            out[key] = {fkey: {ckey: sums.get(fn, {}).get(column) for ckey, column in columns}
                        for fkey, fn, columns in functions}
        return out

    return [item(row) for row in rows]


def businessnxt_app(books: SyntheticBooks, *, client_id: str = DEFAULT_CLIENT_ID,
                    client_secret: str = DEFAULT_CLIENT_SECRET, faults: str | None = None, fault_seed: int = 7,
                    rate_limit: int = 600, token_seconds: int = 3600,
                    clock: Callable[[], float] = time.monotonic) -> Starlette | FaultInjector:
    """The Business NXT sandbox (GraphQL service endpoint and Visma Connect token endpoint) over ``books``;
    ``app.state.sandbox`` holds its state."""
    sandbox = BusinessNxtSandbox(books, client_id=client_id, client_secret=client_secret, rate_limit=rate_limit,
                                 token_seconds=token_seconds, clock=clock)

    async def token(request: Request) -> Response:
        status, body = sandbox.issue_token(dict(parse_qsl((await request.body()).decode())))
        return Response(orjson.dumps(body), status, {"cache-control": "no-store"}, media_type="application/json")

    async def graphql(request: Request) -> Response:
        subject = sandbox.tokens.subject(request.headers.get("authorization"))
        if subject is None:
            return Response(UNAUTHORIZED, 401, media_type="text/html")
        if not sandbox.rate.take(subject).allowed:
            return Response(orjson.dumps({"message": "API rate limit exceeded"}), 429, media_type="application/json")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(errors_body([{"message": "The request body is not valid JSON."}]), 400,
                            media_type="application/json")
        return Response(sandbox.answer(body), 200, media_type="application/json")

    app = Starlette(routes=[Route("/connect/token", token, methods=["POST"]),
                            Route(PATH, graphql, methods=["POST"])])
    app.state.sandbox = sandbox
    if faults:
        return FaultInjector(app, faults, FAULT_STYLE, seed=fault_seed)
    return app


def _app(books: SyntheticBooks, faults: str | None, options: Mapping[str, str]) -> Starlette | FaultInjector:
    return businessnxt_app(books, client_id=options.get("client_id", DEFAULT_CLIENT_ID),
                           client_secret=options.get("client_secret", DEFAULT_CLIENT_SECRET), faults=faults,
                           rate_limit=int(options.get("rate_limit", 600)))


def _login(base_url: str, books: SyntheticBooks, options: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    return ({"base_url": f"{base_url}{PATH}", "token_url": f"{base_url}/connect/token"},
            {"client_id": options.get("client_id", DEFAULT_CLIENT_ID),
             "client_secret": options.get("client_secret", DEFAULT_CLIENT_SECRET)})


SANDBOX = SandboxErp(app=_app, login=_login)
