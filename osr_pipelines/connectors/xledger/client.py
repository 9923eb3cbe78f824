"""The Xledger GraphQL connector.

Auth: ``Authorization: token <API token>`` on ``POST /graphql``. A token belongs to
the entity it was made in and sees the entities below it. Users know their
entity by its code, the Eier-ID; option ``entity`` takes that code (or the
``dbId``) and the connection's companies are the entities below it that have
none below them (a domain or group gives its subsidiaries), or the entity
itself when nothing is below it. Without ``entity`` the token's own entity is
the root.

Xledger reports rate, concurrency and credit problems as HTTP 200 with an
``errors`` list: burst and concurrency limits are retried with backoff (bounded);
``INSUFFICIENT_CREDITS`` fails at once, because Xledger's allowance is a monthly
quota billed per request (waiting minutes would not refill it); a query naming a
field the schema lacks fails naming that field, and a rejected posted-date
filter fails naming option ``posted_date_filter``. A rejected token fails
naming the ``token`` credential and its environment variable, never its value.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

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
from osr_pipelines.connectors.graphql import GraphQLClient, GraphQLError, GraphQLErrors
from osr_pipelines.connectors.http import HttpClient, prefetch
from osr_pipelines.connectors.paging import LastCount, Page, Where, cursor_pages
from osr_pipelines.connectors.xledger import queries
from osr_pipelines.connectors.xledger.facts import CREDENTIALS, DEFAULT_BASE_URL, MAX_PAGE, POSTED_DATE_FILTER
from osr_pipelines.connectors.xledger.mapping import (
    DIMENSION_MAPPERS,
    Edge,
    Lookups,
    OutsideWindow,
    Slots,
    account_role,
    decode_transactions,
    map_transactions,
)

TRANSIENT = frozenset({"BURST_RATE_LIMIT_REACHED", "CONCURRENCY_LIMIT_REACHED"})
AUTH_CODES = frozenset({"UNAUTHORIZED", "UNAUTHENTICATED", "FORBIDDEN", "INVALID_TOKEN"})
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
_DIGITS = re.compile(r"[0-9]+")
#: Relay connections in Xledger carry ``edges`` and ``pageInfo`` only: no published field holds a total.
NO_COUNT = SourceCount(None, "", False, "Xledger reports no count: its connections carry edges and pageInfo "
                                        "(hasNextPage, hasPreviousPage) only")


def _short(code: str | None) -> str:
    """``BAD_REQUEST.BURST_RATE_LIMIT_REACHED`` -> ``BURST_RATE_LIMIT_REACHED``."""
    return (code or "").rsplit(".", 1)[-1]


def _transient(error: GraphQLError) -> bool:
    return _short(error.code) in TRANSIENT


class XledgerConnector:
    """One Xledger API token: the leaf entities below entity ``entity``, or that entity itself.

    Options: ``base_url`` (the GraphQL URL), ``entity`` (the Eier-ID, or a ``dbId``),
    ``page_size`` (at most 10 000), ``posted_date_filter`` (the ``transactions`` filter
    field holding the posting date, default ``headerPostedDate``),
    ``department_object``/``project_object`` (the ``glObjectN`` slots holding departments
    and projects, default 1 and 2; ``none`` for neither), ``department_kind`` (the object
    kind whose values are departments, default 1), ``rate_retries``, ``timeout``.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env, {"token": "API token"})
        self._label.require(connection, credentials, CREDENTIALS)
        token = credentials["token"]
        self.entity = (options.get("entity") or "").strip() or None
        self.page_size = min(int(options.get("page_size", MAX_PAGE)), MAX_PAGE)
        self.posted_date_filter = _option(options, "posted_date_filter", POSTED_DATE_FILTER, _NAME, connection,
                                          "a GraphQL field name such as headerPostedDate")
        self.department_kind = _option(options, "department_kind", "1", _DIGITS, connection,
                                       "the dbId (digits) of the object kind whose values are departments")
        self.slots = Slots(_slot(options, "department_object", 1, connection),
                           _slot(options, "project_object", 2, connection))
        url = urlsplit(options.get("base_url", DEFAULT_BASE_URL))
        self._http = HttpClient(f"{url.scheme}://{url.netloc}", connection=connection,
                                headers={"Authorization": f"token {token}"}, sleep=sleep,
                                timeout=float(options.get("timeout", 120)))
        self._gql = GraphQLClient(self._http, url.path or "/graphql", retryable=_transient,
                                  retries=int(options.get("rate_retries", 10)))
        self._lookups: dict[str, Lookups] = {}
        self._last_count = LastCount()

    # -- errors ------------------------------------------------------------------------

    def _failure(self, err: GraphQLErrors, what: str) -> ConnectorError:
        """Xledger's errors in the connector's terms; never a token value (none is in them)."""
        codes = {_short(c) for c in err.codes}
        messages = " ".join(e.message.lower() for e in err.errors)
        if err.status in (401, 403) or codes & AUTH_CODES or "api token" in messages:
            return CredentialsRejected(f"Xledger rejected the {self._label('token')} on {what}",
                                       connection=self.connection, field="token")
        posted = self.posted_date_filter.lower()
        if what.startswith("transactions") and (f"{posted}_gte" in messages or f"{posted}_lt" in messages):
            return ConnectorError(
                f"Xledger rejected the posted-date filter {self.posted_date_filter}_gte/_lt on {what}: "
                f"{err.reason}. Set connection option posted_date_filter to the transactions filter field "
                "that holds the posting date (see the Xledger connector docs)",
                connection=self.connection, company=err.company, field="posted_date_filter")
        if "INSUFFICIENT_CREDITS" in codes:
            return ConnectorError(
                f"Xledger has no API credits left for this account ({what}); the allowance is monthly, "
                "so buy credits or wait for the next period, then re-run",
                connection=self.connection, company=err.company)
        unknown = next((e.unknown_field for e in err.errors if e.unknown_field), None)
        if unknown is not None:
            return ConnectorError(f"Xledger's schema rejected the query of {what}: {err.reason}",
                                  connection=self.connection, company=err.company, field=unknown)
        return ConnectorError(f"Xledger answered {what} with errors: {err.reason}",
                              connection=self.connection, company=err.company)

    def _execute(self, what: str, query: str, variables: Mapping[str, Any] | None, company: str | None,
                 decoder: Callable[[bytes], Any] | None = None) -> Any:
        try:
            data = self._gql.execute(query, variables, company=company, decoder=decoder)
        except GraphQLErrors as err:
            raise self._failure(err, what) from None
        if data is None:
            raise MalformedResponse(f"{what} answered without data", connection=self.connection, company=company)
        return data

    # -- paging ---------------------------------------------------------------------------

    def _pages(self, root: str, query: str, variables: Mapping[str, Any], company: str | None) -> Iterator[list[dict]]:
        """Nodes of each page of ``root``, following ``after`` while ``hasNextPage``."""
        def fetch(after: str | None) -> Page:
            data = self._execute(root, query, {"first": self.page_size, "after": after, **variables}, company)
            try:
                connection = data[root]
                edges = connection["edges"]
                return Page([e["node"] for e in edges], next=edges[-1]["cursor"] if edges else None,
                            more=connection["pageInfo"]["hasNextPage"])
            except (KeyError, TypeError):
                raise MalformedResponse(f"{root} answered without edges/pageInfo", connection=self.connection,
                                        company=company) from None

        return cursor_pages(fetch, where=Where("Xledger", root, self.connection, company))

    def _transaction_pages(self, company: str, window: Window) -> Iterator[list[Edge]]:
        """One cursor walk over the whole window: a cursor keeps its place however long the range,
        and Xledger bills per request, so empty years are not asked for one by one."""
        what = f"transactions {window}"
        query = queries.transactions(_dbid(company, self.connection), self.posted_date_filter)
        dates = {"from": window.start.isoformat(), "to": window.end.isoformat()}

        def fetch(after: str | None) -> Page:
            data = self._execute(what, query, {"first": self.page_size, "after": after, **dates}, company,
                                 decode_transactions)
            connection = data.transactions
            if connection is None:
                raise MalformedResponse(f"{what} answered without transactions",
                                        connection=self.connection, company=company)
            edges = connection.edges
            return Page(edges, next=edges[-1].cursor if edges else None, more=connection.pageInfo.hasNextPage)

        return cursor_pages(fetch, where=Where("Xledger", what, self.connection, company))

    # -- the connector protocol -----------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The leaf entities below the configured entity (its subsidiaries), or that entity alone."""
        entities = [node for page in self._pages("entities", queries.LOWER_ENTITIES, {}, None) for node in page]
        try:
            by_id = {str(e["dbId"]): e for e in entities}
            children: dict[str, list[dict]] = {}
            for e in entities:
                parent = str((e.get("parent") or {}).get("dbId") or "")
                if parent in by_id and parent != str(e["dbId"]):
                    children.setdefault(parent, []).append(e)
            root = self._root(by_id)
        except (KeyError, TypeError):
            raise MalformedResponse("entities answered without dbId/parent", connection=self.connection) from None
        leaves, stack, seen = [], list(children.get(str(root["dbId"]), [])), set()
        while stack:
            entity = stack.pop()
            key = str(entity["dbId"])
            if key in seen:
                continue
            seen.add(key)
            below = children.get(key, [])
            stack.extend(below)
            if not below:
                leaves.append(entity)
        chosen = sorted(leaves, key=lambda e: int(e["dbId"])) or [root]
        return [CompanyInfo(str(e["dbId"]), e.get("description") or e.get("code") or str(e["dbId"]))
                for e in chosen]

    def _root(self, by_id: Mapping[str, dict]) -> dict:
        """The entity named by option ``entity`` (code or ``dbId``), or the token's own."""
        if self.entity is None:
            data = self._execute("entities", queries.CURRENT_ENTITY, None, None)
            try:
                [current] = [e["node"] for e in data["entities"]["edges"]]
            except (KeyError, TypeError, ValueError):
                raise MalformedResponse("entities(ownerSet: CURRENT) answered without exactly one entity",
                                        connection=self.connection) from None
            return by_id.get(str(current["dbId"]), current)
        wanted = self.entity.casefold()
        for entity in by_id.values():
            if str(entity.get("code") or "").casefold() == wanted or str(entity["dbId"]) == self.entity:
                return entity
        reachable = sorted(str(e.get("code") or e["dbId"]) for e in by_id.values())
        shown = ", ".join(reachable[:10]) + (f" and {len(reachable) - 10} more" if len(reachable) > 10 else "")
        raise ConnectorError(
            f"the API token reaches no entity with code or dbId {self.entity!r} (it reaches {shown or 'none'}). "
            "Set option entity to the Eier-ID shown in Xledger under Administrasjon > Enhet, or make the token "
            "in that entity or one above it", connection=self.connection, field="entity")

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        root = queries.DIMENSION_ROOTS[dimension]
        filter_ = {"ownerDbId": _dbid(erp_id, self.connection)}
        if dimension == "departments":
            filter_["objectKindDbId"] = self.department_kind
        query = queries.master_data(root, filter_)
        mapper = DIMENSION_MAPPERS[dimension]
        for nodes in self._pages(root, query, {}, erp_id):
            try:
                yield [mapper(node) for node in nodes]
            except (KeyError, TypeError) as exc:
                raise MalformedResponse(f"{root} node without {exc}", connection=self.connection,
                                        company=erp_id) from None

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        """Transactions of ``window``, the next page fetched while this one maps."""
        return self._last_count.track(self._postings(erp_id, window), lambda: NO_COUNT)

    def source_count(self) -> SourceCount:
        """Always without rows: Xledger's connections report no count (:data:`NO_COUNT`)."""
        return self._last_count.value

    def _postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        lookups = self._lookups_of(erp_id)
        edges_of_window = (window.start.isoformat(), window.end.isoformat())
        pages = prefetch(self._transaction_pages(erp_id, window), depth=2)
        try:
            for edges in pages:
                try:
                    yield map_transactions(edges, lookups, self.slots, edges_of_window)
                except KeyError as exc:
                    raise MalformedResponse(f"a transaction references account dbId {exc} that accounts lacks",
                                            connection=self.connection, company=erp_id) from None
                except OutsideWindow as exc:
                    raise MalformedResponse(
                        f"transactions {window} returned a transaction posted on {exc.day}, outside the window: "
                        f"the filter field {self.posted_date_filter} (option posted_date_filter) does not "
                        "filter on the posting date; set the option to the field that does",
                        connection=self.connection, company=erp_id, field="posted_date_filter") from None
        finally:
            pages.close()

    def _lookups_of(self, erp_id: str) -> Lookups:
        """Account numbers and roles, and the partners behind ``companyDbId``, fetched once per company."""
        lookups = self._lookups.get(erp_id)
        if lookups is None:
            owner = {"ownerDbId": _dbid(erp_id, self.connection)}

            def nodes(root: str) -> Iterator[dict]:
                for page in self._pages(root, queries.master_data(root, owner), {}, erp_id):
                    yield from page

            def partners(root: str) -> dict[str, str]:
                return {str(n["company"]["dbId"]): str(n["dbId"]) for n in nodes(root) if n.get("company")}

            try:
                accounts = list(nodes("accounts"))
                lookups = Lookups({str(a["dbId"]): a["code"] for a in accounts},
                                  {str(a["dbId"]): account_role(a) for a in accounts},
                                  partners("customers"), partners("suppliers"))
            except (KeyError, TypeError) as exc:
                raise MalformedResponse(f"accounts, customers or suppliers answered a node without {exc}",
                                        connection=self.connection, company=erp_id) from None
            self._lookups[erp_id] = lookups
        return lookups

    def close(self) -> None:
        self._http.close()


def _slot(options: Mapping[str, str], name: str, default: int, connection: str) -> int | None:
    value = str(options.get(name, default)).strip().lower()
    if value in ("", "none"):
        return None
    if value not in {"1", "2", "3", "4", "5"}:
        raise ConnectorError(f"option {name} must be 1..5 or none, not {value!r}", connection=connection,
                             field=name)
    return int(value)


def _option(options: Mapping[str, str], name: str, default: str, pattern: re.Pattern[str], connection: str,
            what: str) -> str:
    """An option that goes into query text verbatim, so it must match ``pattern`` exactly."""
    value = str(options.get(name, default)).strip()
    if not pattern.fullmatch(value):
        raise ConnectorError(f"option {name} must be {what}, not {value!r}", connection=connection, field=name)
    return value


def _dbid(erp_id: str, connection: str) -> str:
    """A company's ``dbId``, checked to be digits because it is written into the query as a literal."""
    if not _DIGITS.fullmatch(erp_id):
        raise ConnectorError(f"an Xledger company id is the entity's dbId (digits), not {erp_id!r}; "
                             "list the connection's companies to see their ids", connection=connection,
                             company=erp_id, field="company")
    return erp_id
