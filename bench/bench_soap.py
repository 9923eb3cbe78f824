"""A large 24SevenOffice GetTransactions answer read by zeep, and by httpx with lxml's pull parser (the connector).

GetTransactions has no paging: a window's answer is one SOAP document, however
many lines it holds. This benchmark writes one such answer (``--lines``
Transaction elements, as the sandbox words them), serves it from another
process over loopback HTTP, and reads it in a fresh process per client, so
that each peak RSS is its own:

* ``zeep``: the WSDL's client (``zeep.Client`` over ``transactionService.wsdl``),
  which parses the whole envelope into a tree and then into objects, mapped
  to canonical rows afterwards;
* ``httpx + lxml``: the connector's own path (``SoapClient`` and ``map_transaction``),
  each Transaction mapped and freed as it closes.

    .venv/bin/python bench/bench_soap.py --lines 200000
    .venv/bin/python bench/bench_soap.py --identities 20

``--identities N`` instead compares the two ways of reaching N companies
through one login: one session switched with ``SetIdentityById`` whenever the
company changes (the connector), and one session per identity (``Login`` with
``IdentityId``), counting the requests of each.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from serving import free_port, wait_until_serving

SPEC = Path(__file__).resolve().parents[1] / ".." / "shared" / "specs" / "24sevenoffice" / "transactionService.wsdl"
ACCOUNTING_NS = "http://24sevenoffice.com/webservices/economy/accounting/"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_answer(path: Path, lines: int) -> int:
    """A GetTransactionsResponse envelope of ``lines`` Transactions from the synthetic books."""
    from osr_pipelines.connectors.base import Window
    from osr_pipelines.connectors.synthetic_books import SyntheticBooks
    from osr_sandbox.twentyfourseven import _close, _open, _transaction

    books = SyntheticBooks(company_ids=("1001",), postings=lines + 5_000, years=1, end=date(2025, 12, 31))
    written = 0
    with path.open("wb") as out:
        out.write((_open("GetTransactions", ACCOUNTING_NS) + "<GetTransactionsResult>").encode())
        for batch in books.postings_in("1001", Window(books.start, books.end + timedelta(days=1))):
            batch = batch[: lines - written]
            out.write("".join(_transaction(row) for row in batch).encode())
            written += len(batch)
            if written >= lines:
                break
        out.write(("</GetTransactionsResult>" + _close("GetTransactions")).encode())
    return written


def serve(path: str, port: int) -> None:
    import uvicorn
    from starlette.responses import StreamingResponse

    def chunks():
        with open(path, "rb") as source:
            while chunk := source.read(1 << 16):
                yield chunk

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await StreamingResponse(chunks(), media_type="text/xml; charset=utf-8")(scope, receive, send)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def read_with_lxml(url: str) -> dict:
    from osr_pipelines.connectors.soap import SoapClient, envelope
    from osr_pipelines.connectors.twentyfourseven.mapping import map_transaction

    baseline = _peak_mb()

    class Rows:
        def __init__(self) -> None:
            self.rows: list = []

        def reset(self) -> None:
            self.rows = []

        def element(self, element) -> None:
            self.rows.append(map_transaction(element, "NOK"))

    client = SoapClient(connection="bench", timeout=600)
    rows = Rows()
    started = time.perf_counter()
    client.call(url, ACCOUNTING_NS + "GetTransactions", envelope("GetTransactions", ACCOUNTING_NS),
                operation="GetTransactions", records=(f"{{{ACCOUNTING_NS}}}Transaction",), handler=rows, company="1001")
    seconds = time.perf_counter() - started
    client.close()
    return {"rows": len(rows.rows), "seconds": seconds, "peak_mb": _peak_mb(), "baseline_mb": baseline}


def read_with_zeep(url: str) -> dict:
    import zeep
    from zeep.transports import Transport

    from osr_pipelines.connectors.twentyfourseven.mapping import compact_guid

    baseline = _peak_mb()
    client = zeep.Client(str(SPEC), transport=Transport(timeout=600, operation_timeout=600))
    service = client.create_service(f"{{{ACCOUNTING_NS}}}TransactionServiceSoap", url)
    started = time.perf_counter()
    answer = service.GetTransactions(searchParams={
        "DateSearchParameters": "EntryDate", "DateStart": "2025-01-01T00:00:00", "DateEnd": "2025-12-31T23:59:59",
        "SystemType": None, "HasInvoiceId": None})
    rows = []
    for t in answer:  # the same canonical tuple the connector builds, dimensions included
        dims = {d.Type: d.Value for d in (t.Dimensions.Dimension if t.Dimensions else [])}
        rows.append((compact_guid(t.Id), str(t.TransactionNo), t.Date.date().isoformat(),
                     t.Date.year * 100 + t.Date.month, str(t.AccountNo), round(float(t.Amount), 2), t.Currency,
                     round(float(t.Amount) / float(t.CurrencyRate), 2), t.Comment or None, dims.get("Department"),
                     dims.get("Project"), dims.get("Customer"), None, None, None, None, t.DateChanged.isoformat()))
    seconds = time.perf_counter() - started
    return {"rows": len(rows), "seconds": seconds, "peak_mb": _peak_mb(), "baseline_mb": baseline}


def identity_strategies(companies: int) -> None:
    """One session switched per company (the connector) against one session per identity, over the sandbox.

    Both read one month of every company; the figures are requests by kind and
    time on loopback (a real Login costs more, and repeated logins are throttled).
    """
    from osr_pipelines.connectors.base import Window
    from osr_pipelines.connectors.soap import SoapClient, envelope, text_element
    from osr_pipelines.connectors.synthetic_books import SyntheticBooks
    from osr_pipelines.connectors.twentyfourseven.client import TwentyFourSevenConnector, _Lines, _Status
    from osr_pipelines.connectors.twentyfourseven.mapping import SERVICES
    from osr_sandbox import twentyfourseven as sandbox
    from osr_sandbox.server import running

    ids = tuple(str(3001 + i) for i in range(companies))
    books = SyntheticBooks(company_ids=ids, postings=3000, years=1, end=date(2025, 12, 31))
    month = Window(date(2025, 3, 1), date(2025, 4, 1))
    credentials = {"application_id": sandbox.DEFAULT_APPLICATION_ID, "username": sandbox.DEFAULT_USERNAME,
                   "password": sandbox.DEFAULT_PASSWORD}
    app = sandbox.app(books)
    with running(app) as base, tempfile.TemporaryDirectory() as tmp:
        connector = TwentyFourSevenConnector("bench", {"base_url": base, "rate_state_dir": tmp,
                                                       "webservices_url": base + sandbox.SECOND_DOMAIN},
                                             credentials)
        started = time.perf_counter()
        rows = sum(len(b) for erp_id in ids for b in connector.stream_postings(erp_id, month))
        switched = time.perf_counter() - started
        print(f"one session, SetIdentityById per company: {rows:,} rows, {sum(connector.requests.values())} "
              f"requests ({connector.requests}) in {switched:.2f} s", flush=True)
        connector.close()

        soap = SoapClient(connection="bench")

        def login_body(identity: str | None) -> str:
            return ("<credential>" + text_element("ApplicationId", credentials["application_id"])
                    + (text_element("IdentityId", identity) if identity else "")
                    + text_element("Password", credentials["password"])
                    + text_element("Username", credentials["username"]) + "</credential>")

        calls: dict[str, int] = {}

        def call(service: str, operation: str, inner: str, record: str, handler: object, session: str | None) -> None:
            svc = SERVICES[service]
            soap.call(base + svc.path, svc.action(operation), envelope(operation, svc.namespace, inner),
                      operation=operation, records=(f"{{{svc.namespace}}}{record}",), handler=handler, company=None,
                      cookies={"ASP.NET_SessionId": session} if session else None)
            calls[operation] = calls.get(operation, 0) + 1

        started = time.perf_counter()
        rows = 0
        # The same work as the connector: the identities listed once, each company's currency asked.
        first = _Status()
        call("auth", "Login", login_body(None), "LoginResult", first, None)
        call("auth", "GetIdentities", "", "Identity", _Status(), first.value)
        for erp_id in ids:
            status = _Status()
            call("auth", "Login", login_body(sandbox.identity_of(erp_id)), "LoginResult", status, None)
            call("client", "GetClientInformation", "", "GetClientInformationResult", _Status(), status.value)
            lines = _Lines("NOK", 10**9)
            search = ("<searchParams>" + text_element("DateStart", "2025-03-01T00:00:00")
                      + text_element("DateEnd", "2025-03-31T23:59:59") + '<SystemType xsi:nil="true" />'
                      '<HasInvoiceId xsi:nil="true" /></searchParams>')
            call("transaction", "GetTransactions", search, "Transaction", lines, status.value)
            rows += len(lines.rows)
        per_identity = time.perf_counter() - started
        soap.close()
        print(f"one session per identity (Login with IdentityId): {rows:,} rows, {sum(calls.values())} requests "
              f"({calls}) in {per_identity:.2f} s; sandbox logins {app.state.logins}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="Transaction elements in the answer")
    parser.add_argument("--client", action="append", choices=("lxml", "zeep"),
                        help="client to measure (repeatable; default both)")
    parser.add_argument("--identities", type=int, default=0, metavar="N",
                        help="instead: compare the two session strategies over N companies")
    args = parser.parse_args()
    if args.identities:
        identity_strategies(args.identities)
        return
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "answer.xml"
        lines = write_answer(path, args.lines)
        print(f"GetTransactions answer: {lines:,} lines, {path.stat().st_size / 1e6:,.0f} MB", flush=True)
        port = free_port()
        server = context.Process(target=serve, args=(str(path), port), daemon=True)
        server.start()
        try:
            wait_until_serving(port, server)
            for name in args.client or ("lxml", "zeep"):
                reader = read_with_lxml if name == "lxml" else read_with_zeep
                with context.Pool(1) as pool:
                    result = pool.apply(reader, (f"http://127.0.0.1:{port}/TransactionService.asmx",))
                label = "httpx + lxml iterparse" if name == "lxml" else "zeep"
                print(f"{label:<24} {result['rows']:>9,} rows {result['seconds']:>7.2f} s "
                      f"{result['rows'] / result['seconds']:>9,.0f} lines/s  peak RSS {result['peak_mb']:>6.0f} MB "
                      f"({result['peak_mb'] - result['baseline_mb']:,.0f} MB over the process before the call)",
                      flush=True)
        finally:
            server.terminate()
            server.join()


if __name__ == "__main__":
    main()
