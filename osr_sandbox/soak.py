"""A fault soak: repeated full and nightly imports from a sandbox with every fault switched on.

After every run each company's rows are compared with the books (the
fault-free reference) by count, sum and a hash of the ordered rows. A run
that succeeded must have converged to the books exactly; a run that failed
must have left the previous rows exactly as they were. Anything else is
*wrong*: data lost or doubled while the run reported otherwise.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from dagster import DagsterInstance
from sqlalchemy import select

from osr_pipelines.connectors.base import Window
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings
from osr_sandbox.erps import sandbox_erp
from osr_sandbox.server import running

ALL_FAULTS = "429=0.05,500=0.05,slow=0.02,drop=0.03,malformed=0.03"

Fingerprint = tuple[int, Decimal, str]


@dataclass
class SoakResult:
    runs: int = 0
    converged: int = 0
    failed_cleanly: int = 0
    wrong: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"soak: {self.runs} runs, {self.converged} converged, {self.failed_cleanly} failed cleanly, "
                f"{self.wrong} wrong")


def fingerprint(rows: Iterable[tuple[str, str, str, Decimal]]) -> Fingerprint:
    """Count, sum and SHA-256 of ``(posting_id, voucher_date, account, amount)`` in posting-id order."""
    digest, count, total = hashlib.sha256(), 0, Decimal(0)
    for posting_id, day, account, amount in sorted(rows):
        cents = Decimal(amount).quantize(Decimal("0.01"))
        digest.update(f"{posting_id}|{day}|{account}|{cents}\n".encode())
        count, total = count + 1, total + cents
    return count, total, digest.hexdigest()


def books_fingerprint(books: SyntheticBooks, erp_id: str) -> Fingerprint:
    everything = Window(books.start, books.end + timedelta(days=1))
    return fingerprint((r[0], str(r[2]), r[4], Decimal(str(r[5])))
                       for batch in books.postings_in(erp_id, everything) for r in batch)


def warehouse_fingerprint(warehouse: Warehouse, company: str) -> Fingerprint:
    c = gl_postings.c
    with warehouse.engine.connect() as conn:
        rows = conn.execute(select(c.posting_id, c.voucher_date, c.account, c.amount).where(c.company == company))
        return fingerprint((r[0], str(r[1]), r[2], Decimal(str(r[3]))) for r in rows)


def soak(home: Path, warehouse_url: str, runs: int, *, erp: str = "tripletex", faults: str = ALL_FAULTS,
         companies: tuple[str, ...] = ("2001", "2002"), postings: int = 1500) -> SoakResult:
    """``runs`` imports (full and nightly alternating) of ``companies`` through Dagster, checked after each.

    Points ``OSR_*`` and ``DAGSTER_HOME`` of this process at ``home``.
    """
    books = SyntheticBooks(company_ids=companies, postings=postings, years=2)
    sandbox = sandbox_erp(erp)
    os.environ.update({"OSR_HOME": str(home), "OSR_REGISTRY": str(home / "registry.yaml"),
                       "OSR_WAREHOUSE_URL": warehouse_url, "DAGSTER_HOME": str(home / "dagster")})
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(warehouse_url)
    reference = {erp_id: books_fingerprint(books, erp_id) for erp_id in companies}
    result = SoakResult()
    with running(sandbox.app(books, faults, {})) as base:
        options, credentials = sandbox.login(base, books, {})
        env = {field: f"SOAK_{field.upper()}" for field in credentials}
        os.environ.update({env[f]: value for f, value in credentials.items()})
        registry = {
            "customers": [{"name": "Soak", "groups": [{"name": "Soak", "clients": [{"name": "Soak"}]}]}],
            "connections": [{"name": "soak", "type": erp, "parent": "Soak", "options": options, "credentials": env}],
            "companies": [{"connection": "soak", "erp_id": c, "name": f"Soak {c}", "client": "Soak"}
                          for c in companies],
        }
        (home / "registry.yaml").write_text(yaml.safe_dump(registry))
        instance = DagsterInstance.get()
        keys = [f"soak.{c}" for c in companies]
        before = {key: warehouse_fingerprint(warehouse, key) for key in keys}
        for n in range(runs):
            kind = "full" if n % 2 == 0 else "nightly"
            for outcome in run_imports(instance, kind, keys):
                key = outcome.company
                now = warehouse_fingerprint(warehouse, key)
                result.runs += 1
                if outcome.status == "SUCCESS" and now == reference[key.split(".", 1)[1]]:
                    result.converged += 1
                elif outcome.status == "FAILURE" and now == before[key] and outcome.error:
                    result.failed_cleanly += 1
                else:
                    result.wrong += 1
                    result.problems.append(f"run {n} ({kind}) {key}: {outcome.status}, warehouse {now[:2]}, "
                                           f"books {reference[key.split('.', 1)[1]][:2]}: {outcome.error}")
                before[key] = now
    return result
