"""The ``visma-business`` connector: requests to the customer's agent, through the gateway, streamed back.

The connector holds the pairing key (a credential, from an environment
variable) and posts one request per query to the gateway, which passes it to
the agent that announced that key. The answer is a stream of frames (see
:mod:`osr_agent.protocol`): chunks of rows, then an end frame; an error frame
or a stream that stops before its end frame is an error naming the
connection, never a short result. Rows are mapped with the platform's one
model of Visma Business (:mod:`osr_pipelines.connectors.visma_business.model`),
org units to department, project and free dimensions as the connection's
options say (:mod:`osr_pipelines.connectors.visma_business.org_units`).

Direct mode asks the agent for ``balances``, an aggregate over ``AcTr`` the
database computes, so a live report moves one row per account and month.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import httpx

from osr_agent import protocol
from osr_agent.queries import ACCOUNT_COLUMNS, ACTOR_COLUMNS, POSTING_COLUMNS
from osr_pipelines.connectors.base import (
    BalanceRow,
    Batch,
    CompanyInfo,
    ConnectorError,
    CredentialLabels,
    CredentialsRejected,
    MalformedResponse,
    SourceCount,
    SourceUnavailable,
    Window,
)
from osr_pipelines.connectors.paging import LastCount
from osr_pipelines.connectors.visma_business.model import dimension_mapper, posting_mapper
from osr_pipelines.connectors.visma_business.org_units import org_unit_roles

_HEAD = protocol.BODY_HEAD


def _yyyymmdd(day: Any) -> int:
    return day.year * 10000 + day.month * 100 + day.day


class VismaBusinessConnector:
    """One data source of one agent, reached by its pairing key."""

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None) -> None:
        self.connection = connection
        self.options = options
        labels = CredentialLabels(credential_env, {"pairing_key": "pairing key"})
        labels.require(connection, credentials, ("pairing_key",))
        self._key_label = labels("pairing_key")
        self._key = credentials["pairing_key"]
        self.currency_code = options.get("currency", "NOK")
        self.roles = org_unit_roles(connection, options)
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=options.get("ca_file") or None)
        self._http = httpx.Client(base_url=options["gateway_url"], verify=verify,
                                  timeout=httpx.Timeout(float(options.get("timeout", 120)), connect=15))
        self._last_count = LastCount()

    # -- the wire ---------------------------------------------------------------------------------------------

    def _frames(self, request: dict, company: str | None = None) -> Iterator[tuple[int, bytes]]:
        """The answer's frames up to its end frame; every way of not reaching it is a :class:`ConnectorError`."""
        where = {"connection": self.connection, "company": company}
        try:
            with self._http.stream("POST", "/v1/request", json=request,
                                   headers={"Authorization": f"Bearer {self._key}"}) as response:
                if response.status_code != 200:
                    response.read()
                    self._refused(response, company)
                buffer = bytearray()
                for chunk in response.iter_raw(256 * 1024):
                    buffer += chunk
                    while len(buffer) >= _HEAD.size:
                        kind, size = _HEAD.unpack_from(buffer)
                        if len(buffer) < _HEAD.size + size:
                            break
                        payload = bytes(buffer[_HEAD.size:_HEAD.size + size])
                        del buffer[:_HEAD.size + size]
                        if kind == protocol.ERROR[0]:
                            raise SourceUnavailable(f"the agent answered: {protocol.decode(payload)['error']}",
                                                    **where)
                        yield kind, payload
                        if kind == protocol.END[0]:
                            return
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"the gateway {self.options['gateway_url']} could not be reached or broke off "
                                    f"({type(exc).__name__}: {exc})", **where) from None
        raise SourceUnavailable("the answer stopped before its end (the agent or the gateway went away "
                                "mid-stream); nothing of it was used", **where)

    def _refused(self, response: httpx.Response, company: str | None) -> None:
        try:
            why = str(response.json().get("error"))
        except ValueError:
            why = f"HTTP {response.status_code}"
        if response.status_code == 401:
            raise CredentialsRejected(f"the {self._key_label} was refused by the gateway: {why}",
                                      connection=self.connection, field="pairing_key")
        if response.status_code == 503:
            raise SourceUnavailable(f"agent for connection '{self.connection}' {why.removeprefix('the agent ')}",
                                    connection=self.connection, company=company)
        raise SourceUnavailable(f"the gateway answered {response.status_code}: {why}", connection=self.connection,
                                company=company)

    def _rows(self, name: str, params: dict, company: str | None = None) -> Iterator[list]:
        for kind, payload in self._frames({"op": "query", "name": name, "params": params}, company):
            if kind == protocol.DATA[0]:
                rows = protocol.decode(payload)
                if not isinstance(rows, list):
                    raise MalformedResponse("a chunk that is not a list of rows", connection=self.connection,
                                            company=company)
                yield rows

    def _company(self, erp_id: str) -> int:
        if not erp_id.isdigit():
            raise ConnectorError("a Visma Business company is its number (FrmNo)", connection=self.connection,
                                 company=erp_id)
        return int(erp_id)

    # -- the connector protocol -------------------------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """The companies of the system database; first, a Document Center path is checked against the agent's."""
        self.check_document_path()
        return [CompanyInfo(str(number), str(name).strip()) for rows in self._rows("companies", {})
                for number, name in rows]

    def check_document_path(self) -> None:
        """With Document Center as document provider, its path must lie inside one of the agent's file paths."""
        if self.options.get("document_provider", "none") != "document-center":
            return
        path = self.options.get("document_center_path")
        if not path:
            raise ConnectorError("document provider 'document-center' needs option document_center_path",
                                 connection=self.connection, field="document_center_path")
        answer = [row for kind, payload in self._frames({"op": "within", "path": path})
                  if kind == protocol.DATA[0] for row in protocol.decode(payload)]
        ok, allowed = answer[0]
        if not ok:
            raise ConnectorError(f"the document-center path '{path}' is not inside the agent's file access paths "
                                 f"({', '.join(allowed) or 'none'}): add it on the agent's admin page",
                                 connection=self.connection, field="document_center_path")

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        company = self._company(erp_id)
        mapped = dimension_mapper(dimension, "sql")
        if dimension == "accounts":
            name, columns = "accounts", ACCOUNT_COLUMNS
        elif dimension in ("departments", "projects"):
            unit = self.roles.holding(dimension)
            if unit is None:
                return
            name, columns = f"org_unit_{unit}", ("RNo", "Nm")
        else:
            name, columns = "actors", ACTOR_COLUMNS
        for rows in self._rows(name, {"company": company}, erp_id):
            batch = [m for m in (mapped(dict(zip(columns, row, strict=True))) for row in rows) if m is not None]
            if batch:
                yield batch

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        sent = [0]
        return self._last_count.track(self._postings(erp_id, window, sent), lambda: self._count(erp_id, window))

    def _postings(self, erp_id: str, window: Window, sent: list[int]) -> Iterator[Batch]:
        mapped = posting_mapper("sql", self.roles, self.currency_code)
        params = {"company": self._company(erp_id), "start": _yyyymmdd(window.start), "end": _yyyymmdd(window.end)}
        for rows in self._rows("postings", params, erp_id):
            try:
                batch = [mapped(dict(zip(POSTING_COLUMNS, row, strict=True))) for row in rows]
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedResponse(f"an AcTr row the model cannot map ({type(exc).__name__}: {exc})",
                                        connection=self.connection, company=erp_id) from None
            sent[0] += len(batch)
            yield batch

    def _count(self, erp_id: str, window: Window) -> SourceCount:
        params = {"company": self._company(erp_id), "start": _yyyymmdd(window.start), "end": _yyyymmdd(window.end)}
        ((count,),) = [row for rows in self._rows("count", params, erp_id) for row in rows]
        return SourceCount(int(count), "COUNT(*) of AcTr in the window", True)

    def source_count(self) -> SourceCount:
        return self._last_count.value

    def balances(self, erp_id: str, from_period: int, to_period: int) -> list[BalanceRow]:
        """The agent's ``balances`` query: SQL Server sums ``AcTr`` per account and month (earlier years per year).

        The whole answer is read before it is returned, so a stream that breaks
        off raises and a report is never rendered from part of it.
        """
        params = {"company": self._company(erp_id), "from_period": from_period, "to_period": to_period}
        return [(str(int(account)), int(period), Decimal(str(debit)), Decimal(str(credit)))
                for rows in self._rows("balances", params, erp_id) for account, period, debit, credit in rows]

    def currency(self, erp_id: str) -> str:
        """The connection's ``currency`` option: Visma Business keeps no currency code for the company in ``Frm``."""
        return self.currency_code

    def document(self, relative: str) -> Iterator[bytes]:
        """A voucher document's bytes, read by the agent under the document-center path."""
        if self.options.get("document_provider", "none") != "document-center":
            raise ConnectorError("this connection has no document provider (option document_provider)",
                                 connection=self.connection, field="document_provider")
        request = {"op": "file", "root": self.options.get("document_center_path"), "path": relative}
        for kind, payload in self._frames(request):
            if kind == protocol.DATA[0]:
                yield payload

    def close(self) -> None:
        self._http.close()
