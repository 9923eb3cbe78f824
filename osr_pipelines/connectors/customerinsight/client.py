"""Reads a Customer Insight export: a CSV file of dated amounts per account, as ``docs/connectors/customer-insight.md``
describes it.

No public Customer Insight API was found (see the doc), so the connection reads
the file the user exported and names; every read streams it again, so an
updated export is picked up by the next import, and nothing is kept in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from osr_pipelines.connectors.base import (
    Batch,
    CompanyInfo,
    ConnectorError,
    MalformedResponse,
    SourceCount,
    SourceUnavailable,
    Window,
    account_type,
)

#: Columns the export must have; the others of ``OPTIONAL`` may be present.
REQUIRED = ("voucher_number", "voucher_date", "account", "amount")
OPTIONAL = ("description", "department", "project", "customer", "supplier", "currency")
BATCH = 10_000
#: The connection's one company: its key is ``<connection>.1``.
COMPANY_ID = "1"


class CustomerInsightConnector:
    """One customer's one company, its rows read from the export file."""

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None) -> None:
        self.connection = connection
        self.path = Path(options["export"]).expanduser()
        self.name = options["company_name"]
        self.company_id = COMPANY_ID
        self._count: int | None = None

    def _error(self, message: str, line: int | None = None, field: str | None = None) -> MalformedResponse:
        where = f"export file {self.path}" + (f", line {line}" if line else "")
        return MalformedResponse(f"{where}: {message}", connection=self.connection, company=self.company_id,
                                 field=field)

    def _rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            handle = self.path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise SourceUnavailable(f"export file {self.path} cannot be read ({exc.strerror}); export it again "
                                    "from Customer Insight or correct option 'export'",
                                    connection=self.connection) from None
        with handle:
            reader = csv.DictReader(handle)
            try:
                missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
                if missing:
                    raise self._error(f"column(s) {', '.join(missing)} missing from the header (needs "
                                      f"{', '.join(REQUIRED)}; may have {', '.join(OPTIONAL)})", 1)
                yield from enumerate(reader, start=2)
            except UnicodeDecodeError:  # a spreadsheet's own format, or another encoding; decoded ahead of lines
                raise self._error("is not UTF-8 CSV text; export it again as CSV (UTF-8)") from None
            except csv.Error as exc:  # a field past csv's size limit, a NUL byte; line_num counts whole records
                raise self._error(f"is not a readable CSV export ({exc}); export it again as CSV",
                                  reader.line_num + 1) from None

    def list_companies(self) -> list[CompanyInfo]:
        if not self.path.is_file():
            raise SourceUnavailable(f"export file {self.path} does not exist; export it from Customer Insight and "
                                    "name it in option 'export'", connection=self.connection)
        return [CompanyInfo(self.company_id, self.name)]

    def _check(self, erp_id: str) -> None:
        if erp_id != self.company_id:
            raise ConnectorError(f"the export holds company '{self.company_id}' only", connection=self.connection,
                                 company=erp_id)

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        """Accounts are the export's account numbers; it names no other dimension's members."""
        self._check(erp_id)
        if dimension != "accounts":
            return
        seen = sorted({row["account"] for _, row in self._rows()})
        yield [(a, a, a, account_type(None, (), int(a) if a.isdigit() else 9999), "") for a in seen]

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        self._check(erp_id)
        self._count = None
        batch: Batch = []
        count = 0
        for n, row in self._rows():
            try:
                day = date.fromisoformat(row["voucher_date"])
            except ValueError:
                raise self._error(f"'{row['voucher_date']}' is not a date (YYYY-MM-DD)", n, "voucher_date") from None
            try:
                amount = Decimal(row["amount"])
            except InvalidOperation:
                raise self._error(f"'{row['amount']}' is not an amount", n, "amount") from None
            if not row["account"]:
                raise self._error("the account is empty", n, "account")
            if not window.start <= day < window.end:
                continue
            count += 1
            get = row.get
            batch.append((f"line-{n}", row["voucher_number"] or None, day.isoformat(), day.year * 100 + day.month,
                          row["account"], float(round(amount, 2)), get("currency") or None, None,
                          get("description") or None, get("department") or None, get("project") or None,
                          get("customer") or None, get("supplier") or None, None, None, None, None))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        self._count = count

    def source_count(self) -> SourceCount:
        return SourceCount(self._count, "rows of the export file in the window", exact=True)

    def close(self) -> None:
        """Nothing stays open between reads."""
