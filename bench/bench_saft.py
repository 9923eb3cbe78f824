"""MB/s and peak memory of a SAF-T import (or ``--validate``): a generated file of ``--mb`` megabytes.

The file is generated streaming with the project's own SAF-T 1.30 writer (one
company, 2-line vouchers with department and project analysis, a customer on
every fourth voucher) and written to a temporary folder. The import then runs
in a child process of its own, so its peak memory (ru_maxrss) is the import's
alone: the ``saf-t`` connector parses the file once (the checking pass, which
keeps the postings in a temporary file) and the warehouse loads dimensions and
postings from it as a full import does. Printed: file size, generation time,
import seconds, MB/s, lines/s, the import's CPU seconds (the figure to compare
on a busy machine) and peak RSS; run it at two sizes to see the memory stay
flat.

With ``--validate`` the child is ``osr saf-t validate FILE`` itself, run as a
user runs it; printed are its seconds, CPU seconds and peak RSS (the child's
own, from ``wait4``), so the figures are the command's and nothing else's.

    .venv/bin/python bench/bench_saft.py --mb 500
    .venv/bin/python bench/bench_saft.py --mb 500 --validate
    .venv/bin/python bench/bench_saft.py --mb 50 --warehouse postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

from osr_pipelines.saft_export.writer import (
    AccountEntry,
    AnalysisEntry,
    Header,
    LineEntry,
    Party,
    Totals,
    TransactionEntry,
    write_saft,
)

ORG = "912345678"
#: Bytes one generated voucher takes in the file, measured; sets the voucher count for a size.
BYTES_PER_VOUCHER = 860
ACCOUNTS = ("1500", "1920", "3000", "4000", "6300", "7700")


def _amount(i: int) -> Decimal:
    return Decimal(i % 99_991 + 1) / 4


def _vouchers(count: int, year: int) -> Iterator[TransactionEntry]:
    for i in range(count):
        month = i * 12 // count + 1
        amount = _amount(i)
        debit, credit = ACCOUNTS[i % len(ACCOUNTS)], "1920" if i % 2 else "3000"
        customer = f"K{i % 500}" if i % 4 == 0 else None
        yield TransactionEntry(str(i + 1), date(year, month, i % 28 + 1), year * 100 + month, f"Voucher {i + 1}", [
            LineEntry(debit, f"Generated line {i + 1}", amount, analysis=(("A", str(i % 7)), ("P", str(i % 40))),
                      customer=customer),
            LineEntry(credit, f"Generated line {i + 1}", -amount, analysis=(("A", str(i % 7)),)),
        ])


def generate(path: Path, megabytes: int, year: int = 2025) -> int:
    """A SAF-T 1.30 file of about ``megabytes`` MB, written streaming; returns its journal lines."""
    count = megabytes * 1_000_000 // BYTES_PER_VOUCHER
    total = sum((_amount(i) for i in range(count)), Decimal(0))
    accounts = [AccountEntry(a, f"Account {a}", "RF-1167", a, Decimal(0), Decimal(0)) for a in ACCOUNTS]
    with path.open("wb") as out:
        write_saft(out, Header(ORG, "Bench AS", "NOK", date(year, 1, 1), date(year, 12, 31), date(year + 1, 1, 5),
                               "bench"),
                   accounts, [Party(f"K{i}", f"Customer {i}") for i in range(500)], [Party("L1", "Supplier")],
                   [AnalysisEntry("A", "Avdeling", str(i), f"Department {i}") for i in range(7)]
                   + [AnalysisEntry("P", "Prosjekt", str(i), f"Project {i}") for i in range(40)],
                   Totals(count, total, total), _vouchers(count, year))
    return 2 * count


def import_child(folder: str, warehouse_url: str) -> None:
    """The measured part, in a process of its own: read the folder and load it as a full import does."""
    from osr_pipelines.connectors.base import DIMENSIONS, Window
    from osr_pipelines.connectors.catalog import connector_type
    from osr_pipelines.warehouse.loader import Warehouse

    wh = Warehouse(warehouse_url)
    started = time.perf_counter()
    connector = connector_type("saf-t").build("bench", {"path": folder}, {}, {})
    for dimension in DIMENSIONS:
        wh.load_dimension(f"bench.{ORG}", dimension, connector.stream_dimension(ORG, dimension), run_id="bench",
                          allow_shrink=True)
    checked = time.perf_counter() - started
    result = wh.load_postings(f"bench.{ORG}", connector.stream_postings(ORG, Window(date(2000, 1, 1),
                                                                                    date(2100, 1, 1))),
                              window=None, run_id="bench", allow_shrink=True)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{result.rows_written} {checked:.3f} {seconds:.3f} {usage.ru_maxrss / 1024:.1f} "
          f"{usage.ru_utime + usage.ru_stime:.3f}")


def validate_child(path: Path) -> None:
    """``osr saf-t validate`` on the file, as a process of its own; prints its wall and CPU seconds and peak RSS."""
    osr = Path(sys.executable).parent / "osr"
    started = time.perf_counter()
    child = subprocess.Popen([str(osr), "saf-t", "validate", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    output = child.stdout.read().decode() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"osr saf-t validate failed:\n{output}")
    print(f"validate: {output.strip()}")
    print(f"validate: {seconds:.1f} s = {path.stat().st_size / 1_000_000 / seconds:.1f} MB/s; "
          f"CPU {usage.ru_utime + usage.ru_stime:.1f} s; peak RSS {usage.ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="size of the generated file in MB (default 500)")
    parser.add_argument("--warehouse", default=None, help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--validate", action="store_true",
                        help="measure `osr saf-t validate FILE` on the file instead of an import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "saf-t"
        folder.mkdir()
        path = folder / f"SAF-T Financial_{ORG}_20260105000000.xml"
        started = time.perf_counter()
        lines = generate(path, args.mb)
        generated = time.perf_counter() - started
        size = path.stat().st_size / 1_000_000
        if args.validate:
            print(f"file: {size:.0f} MB, {lines:,} journal lines, generated in {generated:.0f} s")
            validate_child(path)
            return
        url = args.warehouse or f"sqlite:///{Path(tmp) / 'warehouse.db'}"
        out = subprocess.run([sys.executable, __file__, "--child", str(folder), url], check=True,
                             capture_output=True, text=True).stdout.split()
        rows, checked, seconds, peak, cpu = int(out[0]), float(out[1]), float(out[2]), float(out[3]), float(out[4])
        print(f"file: {size:.0f} MB, {lines:,} journal lines, generated in {generated:.0f} s")
        print(f"import ({'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}): {rows:,} postings in "
              f"{seconds:.1f} s (parsing pass {checked:.1f} s) = {size / seconds:.1f} MB/s, "
              f"{rows / seconds:,.0f} lines/s; CPU {cpu:.1f} s = {size / cpu:.1f} MB per CPU second; "
              f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        import_child(sys.argv[2], sys.argv[3])
    else:
        main()
