"""The Xledger GraphQL connector.

Auth: ``Authorization: token <API token>`` on ``POST /graphql``. A token belongs to
the entity it was made in and sees that entity's sub-entities; each sub-entity is
a company (``erp_id`` = its ``dbId``), and a token of an entity without
sub-entities reaches that entity alone. Option ``entity`` (the entity's code or
``dbId``) is checked against the token's entity, so that a token pasted into the
wrong connection fails at once.

Xledger reports rate, concurrency and credit problems as HTTP 200 with an
``errors`` list: burst and concurrency limits are retried with backoff (bounded);
``INSUFFICIENT_CREDITS`` fails at once, because Xledger's allowance is a monthly
quota billed per request (waiting minutes would not refill it); a query naming a
field the schema lacks fails naming that field. A rejected token fails naming the
``token`` credential and its environment variable, never its value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
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
    Window,
)
from osr_pipelines.connectors.graphql import GraphQLClient, GraphQLError, GraphQLErrors
from osr_pipelines.connectors.http import HttpClient, prefetch
from osr_pipelines.connectors.xledger import queries
from osr_pipelines.connectors.xledger.mapping import (
    DIMENSION_MAPPERS,
    Edge,
    Lookups,
    Slots,
    decode_transactions,
    map_transactions,
)

DEFAULT_BASE_URL = "https://www.xledger.net/graphql"
MAX_PAGE = 10_000  # "Xledger's API has a limit of 10000 records per query"
TRANSIENT = frozenset({"BURST_RATE_LIMIT_REACHED", "CONCURRENCY_LIMIT_REACHED"})
AUTH_CODES = frozenset({"UNAUTHORIZED", "UNAUTHENTICATED", "FORBIDDEN", "INVALID_TOKEN"})


def _short(code: str | None) -> str:
    """``BAD_REQUEST.BURST_RATE_LIMIT_REACHED`` -> ``BURST_RATE_LIMIT_REACHED``."""
    return (code or "").rsplit(".", 1)[-1]


def _transient(error: GraphQLError) -> bool:
    return _short(error.code) in TRANSIENT


class XledgerConnector:
    """One Xledger API token: the sub-entities of its entity, or the entity itself.

    Options: ``base_url`` (the GraphQL URL), ``entity``, ``page_size`` (at most
    10 000), ``department_object``/``project_object`` (the ``glObjectN`` slots
    holding departments and projects, default 1 and 2; ``none`` for neither),
    ``department_kind`` (the object kind whose values are departments, default 1),
    ``rate_retries``, ``timeout``.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connection = connection
        self._label = CredentialLabels(credential_env, {"token": "API token"})
        self._label.require(connection, credentials, ("token",))
        token = credentials["token"]
        self.entity = options.get("entity") or None
        self.page_size = min(int(options.get("page_size", MAX_PAGE)), MAX_PAGE)
        self.department_kind = options.get("department_kind", "1")
        self.slots = Slots(_slot(options, "department_object", 1, connection),
                           _slot(options, "project_object", 2, connection))
        url = urlsplit(options.get("base_url", DEFAULT_BASE_URL))
        self._http = HttpClient(f"{url.scheme}://{url.netloc}", connection=connection,
                                headers={"Authorization": f"token {token}"}, sleep=sleep,
                                timeout=float(options.get("timeout", 120)))
        self._gql = GraphQLClient(self._http, url.path or "/graphql", retryable=_transient,
                                  retries=int(options.get("rate_retries", 10)))
        self._lookups: dict[str, Lookups] = {}

    # -- errors ------------------------------------------------------------------------

    def _failure(self, err: GraphQLErrors, what: str) -> ConnectorError:
        """Xledger's errors in the connector's terms; never a token value (none is in them)."""
        codes = {_short(c) for c in err.codes}
        messages = " ".join(e.message.lower() for e in err.errors)
        if err.status in (401, 403) or codes & AUTH_CODES or "api token" in messages:
            return CredentialsRejected(f"Xledger rejected the {self._label('token')} on {what}",
                                       connection=self.connection, field="token")
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

    def _pages(self, root: str, query: str, filter_: Mapping[str, Any], company: str) -> Iterator[list[dict]]:
        """Nodes of each page of ``root``, following ``after`` while ``hasNextPage``."""
        after: str | None = None
        while True:
            data = self._execute(root, query, {"first": self.page_size, "after": after, "filter": filter_}, company)
            try:
                connection = data[root]
                edges = connection["edges"]
                more = connection["pageInfo"]["hasNextPage"]
                nodes = [e["node"] for e in edges]
            except (KeyError, TypeError):
                raise MalformedResponse(f"{root} answered without edges/pageInfo", connection=self.connection,
                                        company=company) from None
            if nodes:
                yield nodes
            if not more or not edges:
                return
            after = edges[-1]["cursor"]

    def _transaction_pages(self, company: str, window: Window) -> Iterator[list[Edge]]:
        """One cursor walk over the whole window: a cursor keeps its place however long the range,
        and Xledger bills per request, so empty years are not asked for one by one."""
        filter_ = {"ownerDbId": company, "postedDate_gte": window.start.isoformat(),
                   "postedDate_lt": window.end.isoformat()}
        after: str | None = None
        while True:
            data = self._execute(f"transactions {window}", queries.TRANSACTIONS,
                                 {"first": self.page_size, "after": after, "filter": filter_}, company,
                                 decode_transactions)
            connection = data.transactions
            if connection is None:
                raise MalformedResponse(f"transactions {window} answered without transactions",
                                        connection=self.connection, company=company)
            if connection.edges:
                yield connection.edges
            if not connection.pageInfo.hasNextPage or not connection.edges:
                return
            after = connection.edges[-1].cursor

    # -- the connector protocol -----------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The token entity's sub-entities, or the entity itself when it has none."""
        data = self._execute("entities", queries.ENTITIES, None, None)
        try:
            [current] = [e["node"] for e in data["current"]["edges"]]
            lower = [e["node"] for e in data["lower"]["edges"]]
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse("entities answered without exactly one current entity",
                                    connection=self.connection) from None
        if self.entity is not None and self.entity not in (str(current["dbId"]), current.get("code")):
            raise ConnectorError(f"the token belongs to entity {current.get('code') or current['dbId']}, "
                                 f"not to the configured entity {self.entity}", connection=self.connection,
                                 field="entity")
        subs = [e for e in lower if str(e["dbId"]) != str(current["dbId"])] or [current]
        return [CompanyInfo(str(e["dbId"]), e.get("description") or e.get("code") or str(e["dbId"])) for e in subs]

    def stream_dimension(self, company_id: str, dimension: str) -> Iterator[Batch]:
        return self.stream_dimension_since(company_id, dimension, None)

    def stream_dimension_since(self, company_id: str, dimension: str,
                               changed_since: datetime | None) -> Iterator[Batch]:
        """Like :meth:`stream_dimension`, only rows modified at or after ``changed_since`` (``modifiedAt_gte``)."""
        if dimension not in DIMENSION_COLUMNS:
            raise ValueError(f"unknown dimension '{dimension}'")
        query, root = queries.DIMENSION_QUERIES[dimension]
        filter_: dict[str, Any] = {"ownerDbId": company_id}
        if dimension == "departments":
            filter_["objectKindDbId"] = self.department_kind
        if changed_since is not None:
            filter_["modifiedAt_gte"] = changed_since.strftime("%Y-%m-%dT%H:%M:%S")
        mapper = DIMENSION_MAPPERS[dimension]
        for nodes in self._pages(root, query, filter_, company_id):
            try:
                yield [mapper(node) for node in nodes]
            except (KeyError, TypeError) as exc:
                raise MalformedResponse(f"{root} node without {exc}", connection=self.connection,
                                        company=company_id) from None

    def stream_postings(self, company_id: str, window: Window) -> Iterator[Batch]:
        """Transactions of ``window``, the next page fetched while this one maps."""
        lookups = self._lookups_of(company_id)
        pages = prefetch(self._transaction_pages(company_id, window), depth=2)
        try:
            for edges in pages:
                try:
                    yield map_transactions(edges, lookups, self.slots)
                except KeyError as exc:
                    raise MalformedResponse(f"a transaction references account dbId {exc} that accounts lacks",
                                            connection=self.connection, company=company_id) from None
        finally:
            pages.close()

    def _lookups_of(self, company_id: str) -> Lookups:
        """Account numbers and the partners behind ``companyDbId``, fetched once per company."""
        lookups = self._lookups.get(company_id)
        if lookups is None:
            owner = {"ownerDbId": company_id}
            accounts = {str(n["dbId"]): n["code"] for page in self._pages("accounts", queries.ACCOUNTS, owner,
                                                                          company_id) for n in page}

            def partners(root: str, query: str) -> dict[str, str]:
                return {str(n["company"]["dbId"]): str(n["dbId"]) for page in self._pages(root, query, owner,
                                                                                          company_id)
                        for n in page if n.get("company")}

            lookups = self._lookups[company_id] = Lookups(accounts, partners("customers", queries.CUSTOMERS),
                                                          partners("suppliers", queries.SUPPLIERS))
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
