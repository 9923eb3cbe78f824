"""Contracting Works: project transactions read through its HTTP sandbox, pages of ``take`` rows.

The sandbox runs in another process, as the real API would; the connector
reads every invoice line and supplier invoice line and maps them, and the
figures are rows, requests, seconds, rows per second and peak memory. One page
is then fetched, decoded and mapped step by step, so the client's share of
the time shows apart from the sandbox's (graphql-core answers field by field).

    .venv/bin/python bench/bench_contractingworks.py --lines 50000 --page-size 500
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time

import httpx
from serving import free_port, wait_until_serving

from osr_pipelines.connectors.contractingworks import queries
from osr_pipelines.connectors.contractingworks.client import ContractingWorksConnector, _invoice_line
from osr_pipelines.connectors.http import decode


def _serve(port: int, lines: int) -> None:
    import uvicorn

    from osr_pipelines.connectors.synthetic import books_from_options
    from osr_sandbox.contractingworks import TENANT, contractingworks_app, generated

    books = books_from_options({"companies": "1", "postings": "10", "end": "2025-12-31"})
    uvicorn.run(contractingworks_app({TENANT: generated(books, lines)}), host="127.0.0.1", port=port,
                log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000, help="invoice lines (and as many supplier lines)")
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    from osr_sandbox.contractingworks import API_KEY, SUBJECT, TENANT

    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, args.lines), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(port, server)
    connector = ContractingWorksConnector(
        "bench", {"auth_url": base, "graphql_url": base, "tenant": TENANT, "page_size": str(args.page_size)},
        {"subject_id": SUBJECT, "api_key": API_KEY})
    started = time.perf_counter()
    rows = pages = 0
    for batch in connector.stream_project_transactions(f"{TENANT}-1", None):
        rows += len(batch)
        pages += 1
    seconds = time.perf_counter() - started
    connector.close()
    token = httpx.post(f"{base}/Token/GenerateAccessTokenAsJson", json={
        "subjectId": SUBJECT, "apiKey": API_KEY, "clientId": int(TENANT.split("-")[0]), "tenantId": TENANT}
    ).json()["accessToken"]
    t0 = time.perf_counter()
    content = httpx.post(f"{base}/client/{TENANT}/graphql", headers={"Authorization": f"Bearer {token}"},
                         json={"query": queries.INVOICE_LINES, "variables": {"skip": 0, "take": args.page_size}},
                         timeout=600).content
    t1 = time.perf_counter()
    items = decode(content)["data"]["invoiceLines"]["items"]
    t2 = time.perf_counter()
    mapped = [_invoice_line(item) for item in items]
    t3 = time.perf_counter()
    server.terminate()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"contracting-works project transactions: {rows:,} rows in {pages} pages of up to {args.page_size}, "
          f"{seconds:.2f} s, {rows / seconds:,.0f} rows/s, connector peak {peak:.0f} MB")
    print(f"one page of {len(mapped)} invoice lines: request and sandbox {1000 * (t1 - t0):.0f} ms, JSON decoding "
          f"{1000 * (t2 - t1):.1f} ms, mapping {1000 * (t3 - t2):.1f} ms")


if __name__ == "__main__":
    main()
