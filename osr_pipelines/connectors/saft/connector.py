"""The ``saf-t`` connector: a folder of SAF-T Financial files read as an ERP with one company per
organisation number.

A company's files are parsed once, whole, before a single row is handed to
the warehouse: a malformed, truncated or otherwise bad file then fails the
company before its dimensions are replaced, so its previous rows stay as they
were. The postings of that pass wait in an anonymous temporary file (a
``Spool``) and stream from there into the load. Where files overlap, the
newest export wins each month it covers; an older one contributes only the
months no newer one covers.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import msgspec

from osr_pipelines.connectors.base import Batch, CompanyInfo, ConnectorError, Row, SourceCount, Window
from osr_pipelines.connectors.saft.mapping import (
    OPENING_VOUCHER,
    ZERO,
    AccountRecord,
    FileContent,
    LineMapper,
    account_rows,
    walk,
)
from osr_pipelines.connectors.saft.reader import (
    FileHeader,
    SaftFileError,
    org_number_in_name,
    read_header,
    saft_files,
)

#: A file that is one of several of a single export: ``<name>_<part>_<parts>.xml`` (the Tax Administration's
#: naming convention for an export divided into files; docs/connectors/saf-t.md).
SPLIT = re.compile(r"^(?P<base>.+)_(?P<part>[0-9]{1,4})_(?P<parts>[0-9]{1,4})$")


@dataclass
class Part:
    """One file of a company, the export it belongs to, and the months newer exports took from it."""

    header: FileHeader
    newer_months: frozenset[int]
    export: tuple

    def keeps(self, period: int) -> bool:
        return period not in self.newer_months


@dataclass
class Folder:
    """The folder's files by company; files whose header cannot be read, with why."""

    by_company: dict[str, list[FileHeader]] = field(default_factory=dict)
    unreadable: list[SaftFileError] = field(default_factory=list)


def read_folder(folder: Path) -> Folder:
    """Every file's header, grouped by the organisation number it names."""
    found = Folder()
    for path in saft_files(folder):
        try:
            header = read_header(path)
        except SaftFileError as exc:
            found.unreadable.append(exc)
            continue
        found.by_company.setdefault(header.registration_number, []).append(header)
    return found


def months(header: FileHeader) -> set[int]:
    out, month = set(), header.first_month
    while month <= header.last_month:
        out.add(month)
        month = month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1
    return out


def export_of(header: FileHeader) -> tuple:
    """The export a file belongs to: the files of one export divided into parts share it, any other file is
    an export of its own."""
    stem = header.path.name.rsplit(".", 1)[0]
    split = SPLIT.match(stem)
    name = f"{split['base']}/{split['parts']}" if split else header.path.name
    return header.created, header.start, header.end, name


def plan(headers: list[FileHeader]) -> list[Part]:
    """The company's files, newest export first, each with the months a newer export already covers.

    An export wholly covered by newer ones is left out; the files of one
    export divided into parts are kept or left out together.
    """
    exports: dict[tuple, list[FileHeader]] = {}
    for header in headers:
        exports.setdefault(export_of(header), []).append(header)
    parts: list[Part] = []
    taken: set[int] = set()
    for key in sorted(exports, reverse=True):
        own = months(exports[key][0]) - taken
        if own:
            parts.extend(Part(h, frozenset(taken), key) for h in sorted(exports[key], key=lambda h: h.path.name))
        taken |= own
    return parts


def first_export(parts: list[Part]) -> list[Part]:
    """The files whose opening balances start the company's books: the export covering its earliest month."""
    if not parts:
        return []
    earliest = min(parts, key=lambda p: p.header.start).export
    return [p for p in parts if p.export == earliest]


class SaftConnector:
    """Connector over a folder of SAF-T files (option ``path``); see the module doc."""

    def __init__(self, connection: str, options: Mapping[str, str], credentials: Mapping[str, str], *,
                 credential_env: Mapping[str, str] | None = None) -> None:
        self.connection = connection
        self.folder = Path(options["path"]).expanduser()
        self.department_type = options.get("department_type", "A")
        self.project_type = options.get("project_type", "P")
        self.batch_size = int(options.get("batch_size", 10_000))
        self._prepared: dict[str, Prepared] = {}
        self._count = SourceCount(None, "journal lines", True, "no file read yet")

    # -- the protocol ------------------------------------------------------------------

    def list_companies(self) -> list[CompanyInfo]:
        """Each organisation number of the folder with its files and their periods; a file whose header cannot
        be read is listed under the number its name carries, saying what is wrong (its company's import fails)."""
        found = self._read_folder()
        notes: dict[str, list[str]] = {n: [f"{h.path.name} {h.covers()}" for h in headers]
                                       for n, headers in found.by_company.items()}
        names = {n: headers[-1].name for n, headers in found.by_company.items()}
        for error in found.unreadable:
            number = org_number_in_name(error.path)
            if number:
                notes.setdefault(number, []).append(f"{error.path.name} cannot be read: {error.reason}")
        return [CompanyInfo(number, names.get(number, number), number, note="; ".join(notes[number]))
                for number in sorted(notes)]

    def stream_dimension(self, erp_id: str, dimension: str) -> Iterator[Batch]:
        prepared = self._prepare(erp_id)
        yield list(prepared.dimensions.get(dimension, []))

    def stream_postings(self, erp_id: str, window: Window) -> Iterator[Batch]:
        prepared = self._prepare(erp_id)
        start, end = window.start.isoformat(), window.end.isoformat()
        inside: Callable[[Row], bool] = lambda row: start <= row[2] < end  # noqa: E731
        batch: Batch = [row for row in prepared.opening if inside(row)]
        for spooled in prepared.spool.batches():
            batch.extend(row for row in spooled if inside(row))
            if len(batch) >= self.batch_size:
                yield batch
                batch = []
        yield batch
        parsed = sum(n for day, n in prepared.spool.days.items() if start <= day < end)
        self._count = SourceCount(parsed + sum(1 for row in prepared.opening if inside(row)), "journal lines", True,
                                  "the journal lines the parsing pass kept (where files overlap, the newest "
                                  "file's), counted by day as they were parsed, plus one opening-balance row "
                                  "per account")

    def source_count(self) -> SourceCount:
        return self._count

    def source_warnings(self, erp_id: str) -> list[str]:
        """Accounts where a file's opening balance plus its lines is not the closing balance it states."""
        prepared = self._prepared.get(erp_id)
        return list(prepared.warnings) if prepared else []

    def close(self) -> None:
        for prepared in self._prepared.values():
            prepared.spool.close()
        self._prepared.clear()

    # -- reading ------------------------------------------------------------------------

    def _read_folder(self) -> Folder:
        if not self.folder.is_dir():
            raise ConnectorError(f"option 'path': {self.folder} is not a folder (it must hold the SAF-T files)",
                                 connection=self.connection, field="path")
        try:
            return read_folder(self.folder)
        except OSError as exc:
            raise ConnectorError(f"option 'path': the folder {self.folder} cannot be read ({exc.strerror})",
                                 connection=self.connection, field="path") from None

    def _guarded(self, erp_id: str, rows: Iterator[Row]) -> Iterator[Row]:
        try:
            yield from rows
        except SaftFileError as exc:
            raise ConnectorError(str(exc), connection=self.connection, company=erp_id) from None

    def _prepare(self, erp_id: str) -> Prepared:
        """The company's files read whole once: master data, opening balances, reconciliation, counts."""
        if erp_id in self._prepared:
            return self._prepared[erp_id]
        found = self._read_folder()
        broken = [e for e in found.unreadable if org_number_in_name(e.path) == erp_id]
        if broken:
            raise ConnectorError(str(broken[0]), connection=self.connection, company=erp_id)
        headers = found.by_company.get(erp_id)
        if not headers:
            raise ConnectorError(f"no SAF-T file in {self.folder} is of this company (RegistrationNumber)",
                                 connection=self.connection, company=erp_id)
        parts = plan(headers)
        contents: dict[Path, FileContent] = {}
        spool = Spool()
        try:
            for part in parts:
                content = FileContent()
                mapper = LineMapper(part.header, self.department_type, self.project_type)
                spool.write(self._guarded(erp_id, walk(part.header, content, mapper, part.keeps)), self.batch_size)
                contents[part.header.path] = content
        except OSError as exc:
            spool.close()
            raise ConnectorError(f"the postings read from the files could not be kept in the temporary folder "
                                 f"{tempfile.gettempdir()} ({exc.strerror}); free space there or point TMPDIR "
                                 "elsewhere", connection=self.connection, company=erp_id) from None
        except BaseException:
            spool.close()
            raise
        prepared = Prepared(parts, contents, spool, self.department_type, self.project_type)
        self._prepared[erp_id] = prepared
        return prepared


class Spool:
    """The postings of the checking pass, kept in an anonymous temporary file for the load to read back.

    Parsing XML costs far more than reading these back, so the files are
    parsed once; the rows wait on disk, never in memory, in msgpack frames of
    one batch each.
    """

    def __init__(self) -> None:
        # open for as long as the company's import: closed by close(), and gone with the process in any case
        self._file = tempfile.TemporaryFile(prefix="osr-saft-")  # noqa: SIM115
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(list[tuple]).decode
        #: rows written per voucher date, the count a load is checked against
        self.days: Counter[str] = Counter()

    def write(self, rows: Iterator[Row], batch_size: int) -> None:
        batch: list[Row] = []
        days = self.days
        for row in rows:
            days[row[2]] += 1
            batch.append(row)
            if len(batch) >= batch_size:
                self._frame(batch)
                batch = []
        if batch:
            self._frame(batch)

    def _frame(self, batch: list[Row]) -> None:
        data = self._encode(batch)
        self._file.write(len(data).to_bytes(8, "little") + data)

    def batches(self) -> Iterator[list[tuple]]:
        self._file.seek(0)
        while size := self._file.read(8):
            yield self._decode(self._file.read(int.from_bytes(size, "little")))

    def close(self) -> None:
        self._file.close()


class Prepared:
    """A company's files after the first pass: dimensions, opening-balance rows and reconciliation warnings."""

    def __init__(self, parts: list[Part], contents: dict[Path, FileContent], spool: Spool, department_type: str,
                 project_type: str) -> None:
        self.parts = parts
        self.spool = spool
        newest_first = [contents[p.header.path] for p in parts]
        first = first_export(parts)
        self.opening = opening_rows(first[0].header, _joined([contents[p.header.path] for p in first])) \
            if first else []
        self.dimensions = _dimensions(newest_first, department_type, project_type)
        self.warnings = []
        for export in dict.fromkeys(p.export for p in parts):
            files = [p for p in parts if p.export == export]
            self.warnings += reconcile(files[0].header, _joined([contents[p.header.path] for p in files]))


def _joined(contents: list[FileContent]) -> FileContent:
    """The parts of one export as one file: the accounts (the first part's where parts repeat them), the
    lines of all."""
    joined = FileContent()
    seen: set[str] = set()
    for content in contents:
        joined.accounts += [a for a in content.accounts if a.account not in seen]
        seen |= {a.account for a in content.accounts}
        for account, total in content.line_totals.items():
            joined.line_totals[account] += total
        joined.lines += content.lines
    return joined


def _merge(rows: list[list[Row]]) -> list[Row]:
    """Rows by id, the newest file's first."""
    merged: dict[str, Row] = {}
    for batch in rows:
        for row in batch:
            merged.setdefault(row[0], row)
    return sorted(merged.values(), key=lambda r: r[0])


def _dimensions(contents: list[FileContent], department_type: str, project_type: str) -> dict[str, list[Row]]:
    accounts: dict[str, AccountRecord] = {}
    for content in contents:
        for record in content.accounts:
            accounts.setdefault(record.account, record)

    def analysis(kind: str) -> list[Row]:
        return _merge([[(value, value, name) for value, name in content.analysis.get(kind, ("", {}))[1].items()]
                       for content in contents])

    return {
        "accounts": sorted(account_rows(list(accounts.values())), key=lambda r: r[0]),
        "customers": _merge([c.customers for c in contents]),
        "suppliers": _merge([c.suppliers for c in contents]),
        "departments": analysis(department_type),
        "projects": analysis(project_type),
    }


def opening_rows(header: FileHeader, content: FileContent) -> list[Row]:
    """One posting per account with an opening balance, dated the day before the file's first day.

    Dated there, every report from the file's first month on opens with the
    balance the file states (see the README's SAF-T section for why rows and
    not a table of their own).
    """
    day = header.start - timedelta(days=1)
    period = day.year * 100 + day.month
    return [(f"opening/{a.account}", OPENING_VOUCHER, day.isoformat(), period, a.account, float(a.opening),
             header.currency, float(a.opening), "Opening balance (SAF-T OpeningDebitBalance/OpeningCreditBalance)",
             None, None, None, None, None, None, None, None)
            for a in content.accounts if a.opening != ZERO]


def reconcile(header: FileHeader, content: FileContent) -> list[str]:
    """Accounts whose opening balance plus the file's lines differs from the closing balance the file states."""
    out = []
    for a in content.accounts:
        if a.closing is None:
            continue
        computed = a.opening + content.line_totals.get(a.account, ZERO)
        if computed != a.closing:
            out.append(f"SAF-T file '{header.path.name}': account {a.account}: opening {a.opening} + lines "
                       f"{content.line_totals.get(a.account, ZERO)} = {computed}, but the file states closing "
                       f"{a.closing}; the lines are imported as they are")
    return out
