"""The in-process synthetic ERP: the generator's books behind the connector protocol.

It makes the whole platform runnable and testable without any server. Its
``fail_after_rows`` option simulates a source that breaks halfway through, and
``batch_delay`` a slow one.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

from osr_pipelines.connectors.base import (
    BalanceRow,
    Batch,
    CompanyInfo,
    ConnectorError,
    CredentialLabels,
    CredentialsRejected,
    SourceCount,
    SourceUnavailable,
    Window,
)
from osr_pipelines.connectors.paging import LastCount
from osr_pipelines.connectors.synthetic_books import SyntheticBooks


def books_from_options(options: Mapping[str, str]) -> SyntheticBooks:
    """Build the generator from a connection's (string) options."""
    return SyntheticBooks(
        seed=int(options.get("seed", 42)),
        company_ids=tuple(str(options.get("companies", "1001,1002,1003")).split(",")),
        postings=int(options.get("postings", 20_000)),
        years=int(options.get("years", 3)),
        end=date.fromisoformat(options["end"]) if options.get("end") else date.today(),
        mutations_path=Path(options["state"]) if options.get("state") else None,
    )


class SyntheticConnector:
    """Connector over :class:`SyntheticBooks`.

    With option ``accepted_key_sha256`` set, the ``api_key`` credential must hash to it:
    the source can reject credentials without the registry ever holding a secret.
    """

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None) -> None:
        self.connection = connection
        self.books = books_from_options(options)
        self.batch_size = int(options.get("batch_size", 10_000))
        self.fail_after_rows = int(options["fail_after_rows"]) if options.get("fail_after_rows") else None
        self.batch_delay = float(options.get("batch_delay", 0))  # seconds: a slow source
        self._last_count = LastCount()
        accepted = options.get("accepted_key_sha256")
        key = credentials.get("api_key", "")
        if accepted is not None and hashlib.sha256(key.encode()).hexdigest() != accepted:
            label = CredentialLabels(credential_env, {"api_key": "API key"})("api_key")
            raise CredentialsRejected(f"the {label} was rejected", connection=connection, field="api_key")

    def list_companies(self) -> list[CompanyInfo]:
        return self.books.companies()

    def _check(self, erp_id: str) -> None:
        if not self.books.has_company(erp_id):
            raise ConnectorError("no such company in the source", connection=self.connection, company=erp_id)

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        self._check(erp_id)
        yield self.books.dimension(dimension)

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        sent = [0]
        return self._last_count.track(self._postings(erp_id, window, sent),
                                      lambda: SourceCount(sent[0], "generated rows", True,
                                                          "the synthetic books count the rows they generate"))

    def source_count(self) -> SourceCount:
        return self._last_count.value

    def _postings(self, erp_id: str, window: Window, sent: list[int]) -> Iterator[Batch]:
        self._check(erp_id)
        for batch in self.books.postings_in(erp_id, window, self.batch_size):
            if self.fail_after_rows is not None and sent[0] + len(batch) > self.fail_after_rows:
                raise SourceUnavailable(
                    f"source failed after {sent[0]} rows (simulated outage)",
                    connection=self.connection, company=erp_id)
            sent[0] += len(batch)
            if self.batch_delay:
                time.sleep(self.batch_delay)
            yield batch

    def balances(self, erp_id: str, from_period: int, to_period: int) -> list[BalanceRow]:
        """The synthetic ERP's aggregate query; it sums its generated days, as a real ERP sums its tables."""
        self._check(erp_id)
        year, month = divmod(to_period, 100)
        after = date(year + month // 12, month % 12 + 1, 1)
        if after <= self.books.start:
            return []
        totals: dict[tuple[str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for batch in self.books.postings_in(erp_id, Window(self.books.start, after), self.batch_size):
            for row in batch:
                period, account, amount = row[3], row[4], Decimal(str(row[5]))
                key = (account, period if period >= from_period else period // 100 * 100)
                totals[key][0 if amount > 0 else 1] += abs(amount)
        return [(account, period, debit, credit) for (account, period), (debit, credit) in sorted(totals.items())]

    def currency(self, erp_id: str) -> str:
        """Synthetic companies keep their books in NOK (some lines are in EUR)."""
        self._check(erp_id)
        return "NOK"

    def close(self) -> None:
        pass
