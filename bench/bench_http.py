"""Full-import read throughput through each ERP's HTTP sandbox, beside the in-process connector.

Each measurement runs in its own process so that peak RSS is its own; each
sandbox server runs in another, as a real ERP would, and the connector logs in
with the connection the sandbox declares (``SandboxErp.login``). For Tripletex
a sequential pass then splits the HTTP path's time into HTTP (request, server
and transfer), JSON decoding and mapping.

    .venv/bin/python bench/bench_http.py --postings 1000000
    .venv/bin/python bench/bench_http.py --postings 300000 --erp tripletex --erp xledger
    .venv/bin/python bench/bench_http.py --erp poweroffice-go --readers 4 --faults slow=1 \
        --page-size 100 --postings 20000

``--readers N`` reads with N processes at once, as N concurrent runs of one
connection do (the run queue allows 4), and prints the requests per second
they achieved together: against a sandbox with latency and the ERP's rate
limit, that is the figure to hold against the ERP's budget.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta

import httpx
from serving import free_port, wait_until_serving

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.synthetic import SyntheticConnector, books_from_options
from osr_pipelines.connectors.tripletex.client import split_by_year
from osr_pipelines.connectors.tripletex.mapping import POSTING_FIELDS, decode_postings, map_postings

COMPANY = "1001"
END = "2025-12-31"
FULL = Window(date(2000, 1, 1), date(2030, 1, 1))
TOKENS = {"consumer_token": "bench-consumer", "employee_token": "bench-employee"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_in_process(postings: int, page_size: int) -> dict:
    connector = SyntheticConnector("bench", {"companies": COMPANY, "postings": str(postings), "end": END,
                                             "batch_size": str(page_size)}, {})
    started = time.perf_counter()
    rows = batches = 0
    for batch in connector.stream_postings(COMPANY, FULL):
        rows += len(batch)
        batches += 1
    return {"rows": rows, "pages": batches, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def read_over_http(erp: str, base_url: str, postings: int, page_size: int | None, extra: dict[str, str]) -> dict:
    from osr_sandbox.erps import sandbox_erp

    books_options = _books_options(postings)
    options, credentials = sandbox_erp(erp).login(base_url, books_from_options(books_options), books_options)
    options.update(extra)
    if page_size:
        options["page_size"] = str(page_size)
    connector = connector_type(erp).build("bench", options, credentials, {})
    started = time.perf_counter()
    rows = batches = 0
    for batch in connector.stream_postings(COMPANY, FULL):
        rows += len(batch)
        batches += 1
    seconds = time.perf_counter() - started
    connector.close()
    return {"rows": rows, "pages": batches, "seconds": seconds, "peak_mb": _peak_mb()}


def tripletex_breakdown(base_url: str, page_size: int) -> dict:
    """The same Tripletex pages fetched, decoded and mapped one after another, each step timed."""
    spent = {"http": 0.0, "json": 0.0, "mapping": 0.0}
    with httpx.Client(base_url=f"{base_url}/v2", timeout=600) as http:
        token = http.put("/token/session/:create", params={
            "consumerToken": TOKENS["consumer_token"], "employeeToken": TOKENS["employee_token"],
            "expirationDate": (date.today() + timedelta(days=2)).isoformat()}).json()["value"]["token"]
        for window in split_by_year(FULL):
            start = 0
            while True:
                t0 = time.perf_counter()
                content = http.get("/ledger/posting", auth=(COMPANY, token), params={
                    "dateFrom": window.start.isoformat(), "dateTo": window.end.isoformat(),
                    "fields": POSTING_FIELDS, "from": start, "count": page_size}).content
                t1 = time.perf_counter()
                values = decode_postings(content).values
                t2 = time.perf_counter()
                map_postings(values)
                t3 = time.perf_counter()
                spent["http"] += t1 - t0
                spent["json"] += t2 - t1
                spent["mapping"] += t3 - t2
                start += len(values)
                if len(values) < page_size:
                    break
    return spent


def _books_options(postings: int) -> dict[str, str]:
    return {"companies": COMPANY, "postings": str(postings), "end": END, **TOKENS,
            "max_result_size": str(max(postings, 500_000))}


def serve(erp: str, port: int, postings: int, faults: str | None) -> None:
    from osr_sandbox.erps import serve_sandbox

    serve_sandbox(erp, port, faults=faults, options=_books_options(postings))


def _line(name: str, result: dict) -> str:
    rate = result["rows"] / result["seconds"]
    return (f"{name:<22} {result['rows']:>10,} rows {result['seconds']:>7.2f} s {rate:>10,.0f} postings/s "
            f"{result['pages'] / result['seconds']:>7.1f} pages/s  peak RSS {result['peak_mb']:>6.0f} MB")


def measure(erp: str, postings: int, page_size: int | None, faults: str | None, extra: dict[str, str],
            context: multiprocessing.context.BaseContext, readers: int = 1) -> dict:
    port = free_port()
    server = context.Process(target=serve, args=(erp, port, postings, faults), daemon=True)
    server.start()
    try:
        wait_until_serving(port, server)
        base_url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        with ProcessPoolExecutor(readers, mp_context=context) as pool:
            results = [f.result() for f in [pool.submit(read_over_http, erp, base_url, postings, page_size, extra)
                                            for _ in range(readers)]]
        result = results[0]
        if readers > 1:
            result["together"] = {"pages": sum(r["pages"] for r in results),
                                  "seconds": time.perf_counter() - started}
        if erp == "tripletex" and not faults:
            result["breakdown"] = tripletex_breakdown(base_url, page_size or 10_000)
        return result
    finally:
        server.terminate()
        server.join()


def main() -> None:
    from osr_sandbox.erps import SANDBOXES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postings", type=int, default=1_000_000, help="postings in the company's books")
    parser.add_argument("--page-size", type=int, default=None,
                        help="rows per request (default: each connector's own; 10 000 in-process)")
    parser.add_argument("--faults", default=None,
                        help="sandbox faults, e.g. 'slow=1' for 200 ms of latency on every request")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="connector option, e.g. workers=1 (repeatable)")
    parser.add_argument("--readers", type=int, default=1,
                        help="processes reading at once, as concurrent runs of one connection (default 1)")
    parser.add_argument("--erp", action="append", choices=sorted(SANDBOXES),
                        help="sandbox ERP to read from (repeatable; default: all)")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        local = pool.submit(read_in_process, args.postings, args.page_size or 10_000).result()
    print(_line("in-process synthetic", local), flush=True)
    local_rate = local["rows"] / local["seconds"]
    for erp in args.erp or sorted(SANDBOXES):
        extra = dict(pair.split("=", 1) for pair in args.option)
        remote = measure(erp, args.postings, args.page_size, args.faults, extra, context, args.readers)
        ratio = (remote["rows"] / remote["seconds"]) / local_rate
        print(f"{_line(f'{erp} over HTTP', remote)}  {ratio:>4.0%} of in-process"
              f"{'' if remote['rows'] == local['rows'] else '  ROW COUNT DIFFERS'}", flush=True)
        if "together" in remote:
            both = remote["together"]
            print(f"  {args.readers} readers at once: {both['pages']} pages in {both['seconds']:.1f} s = "
                  f"{both['pages'] / both['seconds']:.1f} posting pages/s together", flush=True)
        if "breakdown" in remote:
            spent = remote["breakdown"]
            total = sum(spent.values())
            print("  sequential breakdown: " + ", ".join(
                f"{name} {seconds:.2f} s ({seconds / total:.0%})" for name, seconds in spent.items()))


if __name__ == "__main__":
    main()
