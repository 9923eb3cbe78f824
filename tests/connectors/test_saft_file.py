"""The ``saf-t`` connector over real files: the Tax Administration's example, overlapping files, bad files.

Files are written with the project's own SAF-T 1.30 writer and checked
against the XSD, so the reader is tested on files the schema accepts; the
bad files are each broken in one way.
"""

from __future__ import annotations

import resource
import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from osr_pipelines.connectors.base import ConnectorError, Window
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.connectors.saft.connector import SaftConnector
from osr_pipelines.connectors.saft.mapping import OPENING_VOUCHER
from osr_pipelines.saft_export.validate import problems
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

SPECS = Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "saf-t"
EXAMPLE = SPECS / "ExampleFile_SAF-T_Financial_999999999_20161125213512.xml"
EVERYTHING = Window(date(2000, 1, 1), date(2100, 1, 1))
ORG = "912345678"


def connector(folder: Path, **options: str) -> SaftConnector:
    return connector_type("saf-t").build("files", {"path": str(folder), **options}, {}, {})


def postings(conn: SaftConnector, erp_id: str) -> list[tuple]:
    return [row for batch in conn.stream_postings(erp_id, EVERYTHING) for row in batch]


def saft_file(path: Path, *, org: str = ORG, created: date = date(2026, 1, 10), start: date = date(2025, 1, 1),
              end: date = date(2025, 12, 31), lines: list[tuple[str, int, str, str]] | None = None,
              opening: dict[str, Decimal] | None = None, closing: dict[str, Decimal] | None = None) -> Path:
    """A valid SAF-T 1.30 file; ``lines`` are ``(voucher, YYYYMM, account, amount)``, grouped into vouchers."""
    lines = lines or [("1", 202503, "1920", "-50.00"), ("1", 202503, "3000", "50.00")]
    opening = opening or {"1920": Decimal("100.00"), "2050": Decimal("-100.00")}
    totals: dict[str, Decimal] = {}
    vouchers: dict[str, TransactionEntry] = {}
    for voucher, period, account, amount in lines:
        tx = vouchers.setdefault(voucher, TransactionEntry(voucher, date(period // 100, period % 100, 15), period,
                                                           f"voucher {voucher}", []))
        tx.lines.append(LineEntry(account, f"line of {voucher}", Decimal(amount), analysis=(("A", "10"), ("P", "77")),
                                  customer="K1" if account == "1500" else None))
        totals[account] = totals.get(account, Decimal(0)) + Decimal(amount)
    numbers = sorted({*opening, *totals, "3000"})
    accounts = [AccountEntry(n, f"account {n}", "RF-1167", n, opening.get(n, Decimal(0)),
                             (closing or {}).get(n, opening.get(n, Decimal(0)) + totals.get(n, Decimal(0))))
                for n in numbers]
    debit = sum((Decimal(a) for *_, a in lines if Decimal(a) > 0), Decimal(0))
    with path.open("wb") as out:
        write_saft(out, Header(org, f"Company {org}", "NOK", start, end, created, "test"), accounts,
                   [Party("K1", "Kunde AS", "987654321")], [Party("L1", "Leverandør AS")],
                   [AnalysisEntry("A", "Avdeling", "10", "Salg"), AnalysisEntry("P", "Prosjekt", "77", "Bygg")],
                   Totals(len(vouchers), debit, debit), list(vouchers.values()))
    return path


def test_the_tax_administrations_example_file(tmp_path: Path) -> None:
    conn = connector(SPECS)
    [info] = conn.list_companies()
    assert (info.erp_id, info.name, info.organization_number) == ("999999999", "Selskapet AS", "999999999")
    assert info.note == f"{EXAMPLE.name} 2015-01-01..2015-12-31"
    [accounts] = conn.stream_dimension("999999999", "accounts")
    assert accounts[0] == ("1925", "1925", "Bankkonto 1234.56.78911", "balance", "standard:19")
    assert [r[:3] for r in next(conn.stream_dimension("999999999", "customers"))] == [("12000", "12000", "Kunden AS")]
    assert next(conn.stream_dimension("999999999", "suppliers"))[0][2] == "Leverandøren AS"
    assert next(conn.stream_dimension("999999999", "departments")) == [("100", "100", "Administrasjon")]
    assert next(conn.stream_dimension("999999999", "projects")) == [("2000", "2000", "Kontorbygg Aker Brygge")]
    rows = postings(conn, "999999999")
    assert conn.source_count().rows == len(rows) == 8  # 3 opening balances, 5 journal lines
    opening = {r[4]: r[5] for r in rows if r[1] == OPENING_VOUCHER}
    assert opening == {"1925": 1234.56, "2400": -1234.56, "2740": -1234.56}
    assert {r[2] for r in rows if r[1] == OPENING_VOUCHER} == {"2014-12-31"}
    first = next(r for r in rows if r[0] == "A/4567/1")
    assert first[1:11] == ("4567", "2015-10-31", 201510, "4000", 10000.0, "NOK", 10000.0, "Faktura 123456", "100",
                           "2000")
    assert first[13] == "B:11"  # an analysis type that is neither department nor project
    assert next(r for r in rows if r[0] == "A/4567/3")[12] == "20000"  # the line's SupplierID
    # The example's stated closing balances are placeholders (12345.67): each account is named with both figures.
    warnings = conn.source_warnings("999999999")
    assert len(warnings) == 4
    assert any("account 1925: opening 1234.56 + lines -12500.00 = -11265.44, but the file states closing 12345.67"
               in w for w in warnings)


def test_analysis_types_for_departments_and_projects_are_per_connection(tmp_path: Path) -> None:
    conn = connector(SPECS, department_type="B", project_type="A")
    rows = postings(conn, "999999999")
    first = next(r for r in rows if r[0] == "A/4567/1")
    assert (first[9], first[10], first[13]) == ("11", "100", "P:2000")
    assert [r[0] for r in next(conn.stream_dimension("999999999", "departments"))] == ["11", "4"]


def test_the_newest_file_wins_the_months_it_covers(tmp_path: Path) -> None:
    saft_file(tmp_path / "old.xml", created=date(2025, 7, 1), start=date(2025, 1, 1), end=date(2025, 6, 30),
              lines=[("1", 202502, "1920", "-10"), ("1", 202502, "3000", "10"),
                     ("2", 202506, "1920", "-99"), ("2", 202506, "3000", "99")])
    saft_file(tmp_path / "new.zip.xml", created=date(2026, 1, 10), start=date(2025, 6, 1), end=date(2025, 12, 31),
              lines=[("2", 202506, "1920", "-20"), ("2", 202506, "3000", "20"),
                     ("3", 202509, "1920", "-30"), ("3", 202509, "3000", "30")],
              opening={"1920": Decimal("90.00"), "2050": Decimal("-100.00"), "3000": Decimal("10.00")})
    # the newer file travels zipped, as systems often deliver it
    with zipfile.ZipFile(tmp_path / "new.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "new.zip.xml", "SAF-T Financial_912345678_20260110.xml")
    (tmp_path / "new.zip.xml").unlink()
    conn = connector(tmp_path)
    [info] = conn.list_companies()
    assert "new.zip 2025-06-01..2025-12-31" in info.note and "old.xml 2025-01-01..2025-06-30" in info.note
    rows = postings(conn, ORG)
    journal = sorted((r[1], r[3], r[5]) for r in rows if r[1] != OPENING_VOUCHER)
    # June is the newer file's: the old file's voucher 2 (-99/99) is gone, its February stays
    assert journal == [("1", 202502, -10.0), ("1", 202502, 10.0), ("2", 202506, -20.0), ("2", 202506, 20.0),
                       ("3", 202509, -30.0), ("3", 202509, 30.0)]
    # opening balances come from the file that starts the books: the old one, dated the day before
    assert sorted((r[4], r[5], r[2]) for r in rows if r[1] == OPENING_VOUCHER) == [
        ("1920", 100.0, "2024-12-31"), ("2050", -100.0, "2024-12-31")]
    assert conn.source_warnings(ORG) == []


def test_an_export_divided_into_files_is_read_as_one(tmp_path: Path) -> None:
    """``<name>_<part>_<parts>.xml``: the files of one export share its months; master files are in the first."""
    first = [("1", 202502, "1920", "-10.00"), ("1", 202502, "3000", "10.00")]
    second = [("2", 202502, "1920", "-5.00"), ("2", 202502, "3000", "5.00")]
    closing = {"1920": Decimal("85.00"), "2050": Decimal("-100.00"), "3000": Decimal("15.00")}
    saft_file(tmp_path / "SAF-T Financial_912345678_20260110120000_1_2.xml", lines=first, closing=closing)
    part = saft_file(tmp_path / "SAF-T Financial_912345678_20260110120000_2_2.xml", lines=second)
    text = part.read_text(encoding="utf-8")
    part.write_text(text[:text.index("<MasterFiles>")] + text[text.index("</MasterFiles>") + 14:], encoding="utf-8")
    conn = connector(tmp_path)
    rows = postings(conn, ORG)
    assert sorted((r[1], r[5]) for r in rows) == [("1", -10.0), ("1", 10.0), ("2", -5.0), ("2", 5.0),
                                                  (OPENING_VOUCHER, -100.0), (OPENING_VOUCHER, 100.0)]
    assert conn.source_warnings(ORG) == []  # the stated closing balances hold for the two parts together


def test_written_files_are_valid_saft_130(tmp_path: Path) -> None:
    assert problems(saft_file(tmp_path / "a.xml")) == []
    assert problems(EXAMPLE) == []  # the example is a 1.10 file, checked against 1.10


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO"><Header><AuditFileVersion>&lol9;</AuditFileVersion>
</Header></AuditFile>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<AuditFile xmlns="urn:StandardAuditFile-Taxation-Financial:NO"><Header>&secret;</Header></AuditFile>"""


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _malformed(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"</Transaction>", b"</Transactio>", 1))


def _wrong_version(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"<AuditFileVersion>1.30<", b"<AuditFileVersion>2.00<"))


BAD = {
    "malformed": (_malformed, "is not well-formed XML at line"),
    "truncated": (_truncated, "truncated?"),
    "wrong version": (_wrong_version, "AuditFileVersion '2.00' is not a SAF-T Financial version"),
    "empty": (lambda p: p.write_bytes(b""), "is empty"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 64), "is not well-formed XML at line 1: "),
    "text": (lambda p: p.write_text("garbage"),
             "Start tag expected, '<' not found, line 1, column 1 (not an XML file)"),
    "billion laughs": (lambda p: p.write_bytes(BILLION_LAUGHS), "declares a DOCTYPE"),
    "external entity": (lambda p: p.write_bytes(EXTERNAL), "declares a DOCTYPE"),
    "bad amount": (lambda p: p.write_bytes(p.read_bytes().replace(b"<Amount>50.00<", b"<Amount>fifty<", 1)),
                   "Amount must be an amount, not 'fifty'"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_file_fails_only_its_company_in_one_line(tmp_path: Path, kind: str) -> None:
    break_it, reason = BAD[kind]
    saft_file(tmp_path / "SAF-T Financial_912345678_20260110.xml")
    saft_file(tmp_path / "other.xml", org="998877665")
    break_it(tmp_path / "SAF-T Financial_912345678_20260110.xml")
    conn = connector(tmp_path)
    started, peak = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConnectorError) as failed:
        list(conn.stream_dimension(ORG, "accounts"))
    message = str(failed.value)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("connection 'files', ERP company '912345678': SAF-T file "
                              "'SAF-T Financial_912345678_20260110.xml': ")
    assert reason in message
    assert time.perf_counter() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 100_000  # KiB: no entity expansion
    assert "root:" not in message
    # the other company's file is read as ever
    assert len(postings(connector(tmp_path), "998877665")) == 4


def test_available_lists_a_file_it_cannot_read_under_the_number_its_name_carries(tmp_path: Path) -> None:
    saft_file(tmp_path / "good.xml", org="998877665")
    (tmp_path / "SAF-T Financial_912345678_20250101.xml").write_text("garbage")
    (tmp_path / "notes.xml").write_text("garbage")  # no organisation number in its name: no company's
    listed = {info.erp_id: info for info in connector(tmp_path).list_companies()}
    assert sorted(listed) == [ORG, "998877665"]
    assert listed[ORG].name == ORG
    assert listed[ORG].note == ("SAF-T Financial_912345678_20250101.xml cannot be read: is not well-formed XML at "
                                "line 1: Start tag expected, '<' not found, line 1, column 1 (not an XML file)")
    assert listed["998877665"].note == "good.xml 2025-01-01..2025-12-31"


def test_a_missing_folder_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"connection 'files', field 'path': option 'path': .* is not a folder"):
        connector(tmp_path / "nowhere").list_companies()
