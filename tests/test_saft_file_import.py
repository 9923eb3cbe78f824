"""SAF-T files imported through Dagster like any ERP, exported back to SAF-T 1.30, and a round trip.

The example file of the Tax Administration is imported through the CLI as a
user would (connection, available companies, full import); a broken newer file
then fails the company in one line and leaves its rows. A Tripletex sandbox
company is imported over HTTP, exported, checked against the XSD, and imported
again through a ``saf-t`` connection: the trial balance and the customers and
suppliers come back the same.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance
from lxml import etree
from sqlalchemy import select, update

from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.reports.build import build_report
from osr_pipelines.reports.ledger import from_warehouse
from osr_pipelines.reports.saft import STANDARD_ACCOUNT
from osr_pipelines.reports.trial_balance import trial_balance
from osr_pipelines.saft_export.validate import SCHEMA_FILES, SCHEMAS, problems
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import dimension_tables
from osr_sandbox.erps import SANDBOXES
from osr_sandbox.server import running
from tests.conftest import write_registry
from tests.connectors.test_saft_file import ORG as SAFT_ORG
from tests.connectors.test_saft_file import saft_file
from tests.helpers import osr

SPECS = Path(__file__).resolve().parents[1] / ".." / "shared" / "specs" / "saf-t"
EXAMPLE = SPECS / "ExampleFile_SAF-T_Financial_999999999_20161125213512.xml"
ORG = "999999999"
SQLITE = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


def closing_balances(wh: Warehouse, key: str, first: int, last: int) -> dict[str, Decimal]:
    tb = trial_balance(from_warehouse(wh.engine, key, first, last))
    return {r.account: r.closing for r in tb.of(last)}


def tb_rows(wh: Warehouse, key: str, year: int) -> dict[tuple[str, int], tuple[Decimal, Decimal, Decimal]]:
    tb = trial_balance(from_warehouse(wh.engine, key, year * 100 + 1, year * 100 + 12))
    return {(r.account, r.period): (r.opening, r.debit, r.credit) for r in tb.rows}


def last_run_events(home: Path) -> list:
    instance = DagsterInstance.from_config(str(home / "dagster"))
    [record] = instance.get_run_records(limit=1)
    return list(instance.all_logs(record.dagster_run.run_id))


def warnings_of(home: Path) -> list[str]:
    return [e.user_message for e in last_run_events(home) if e.level >= 30 and e.dagster_event is None]


def exported_grouping(path: Path, account: str) -> tuple[str, str]:
    """(GroupingCategory, GroupingCode) of ``account`` in an exported SAF-T 1.30 file."""
    ns = {"n": "urn:StandardAuditFile-Taxation-Financial:NO"}
    [element] = etree.parse(path).xpath(f"//n:Account[n:AccountID='{account}']", namespaces=ns)
    return element.findtext("n:GroupingCategory", namespaces=ns), element.findtext("n:GroupingCode", namespaces=ns)


def test_example_file_through_the_cli_and_a_bad_file_after_it(home: Path, warehouse_url: str) -> None:
    folder = home / "saf-t"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    write_registry(home / "registry.yaml", [], [])
    osr("connection", "add", "files", "--type", "saf-t", "--parent", "Acme", "--option", f"path={folder}")
    listed = osr("company", "available", "files").output
    assert f"{ORG}    Selskapet AS  ({EXAMPLE.name} 2015-01-01..2015-12-31)" in listed
    osr("company", "add", "files", ORG)
    assert "SUCCESS" in osr("import", "full", "--company", f"files.{ORG}").output

    wh = Warehouse(warehouse_url)
    key = f"files.{ORG}"
    # opening balances plus the file's lines, account by account, from the file's first month
    assert closing_balances(wh, key, 201501, 201512) == {
        "1925": Decimal("-11265.44"), "2400": Decimal("-1234.56"), "2740": Decimal("1265.44"),
        "4000": Decimal("10000.00")}
    assert closing_balances(wh, key, 201501, 201501)["1925"] == Decimal("1234.56")
    # the example's opening balances do not sum to zero (1234.56 debit, 2 x 1234.56 credit): the check says so
    assert [(v, str(d), float(t)) for v, d, t in wh.unbalanced_vouchers(key)] == [
        ("OPENING-BALANCE", "2014-12-31", -1234.56)]
    with wh.engine.connect() as conn:
        accounts = dimension_tables["accounts"]
        assert conn.execute(select(accounts.c.account_group).where(
            accounts.c.company == key, accounts.c.number == "4000")).scalar_one() == "standard:43"
    # reports place the account by the file's standard account 43, not by the rule (4000 is a standard account)
    report = build_report("income-statement", from_warehouse(wh.engine, key, 201401, 201512), 201512,
                          STANDARD_ACCOUNT)
    lines = {row.cells[0]: row.cells[3] for row in report.tables[0].rows if row.strong}  # the year to date
    assert lines["43"] == Decimal("-10000.00") and "4000" not in lines and not report.unmapped
    # the example's stated closing balances are placeholders: each account is flagged with both figures
    flagged = [w for w in warnings_of(home) if "but the file states closing" in w]
    assert len(flagged) == 4 and any("account 4000: opening 0.00 + lines 10000.00 = 10000.00, but the file "
                                      "states closing 0.00" in w for w in flagged)
    [count] = [e.dagster_event.event_specific_data for e in last_run_events(home)
               if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
               and e.dagster_event.event_specific_data.check_name == "row_count_matches_source"]
    assert count.passed and count.metadata["erp_reported_rows"].value == 8  # 5 lines, 3 opening balances
    before = wh.count_postings(key)

    # a newer file of the company, cut off halfway: the company fails in one line, its rows stay
    broken = folder / f"SAF-T Financial_{ORG}_20260101120000.xml"
    data = EXAMPLE.read_bytes().replace(b"2016-01-15", b"2026-01-01")
    broken.write_bytes(data[: len(data) // 2])
    failed = osr("import", "full", "--company", key, ok=False)
    assert failed.exit_code != 0
    [line] = [ln for ln in failed.output.splitlines() if broken.name in ln]
    assert "is not well-formed XML at line" in line and "truncated?" in line and key in line
    assert "Traceback" not in failed.output
    assert wh.count_postings(key) == before
    assert closing_balances(wh, key, 201501, 201512)["1925"] == Decimal("-11265.44")

    # the exported year is valid SAF-T 1.30 and says the same
    out = home / "export.xml"
    written = osr("export", "saf-t", "--company", key, "--year", "2015", "--out", str(out)).output
    assert "2 transactions, 5 lines" in written
    assert osr("saf-t", "validate", str(out)).output.strip() == "export.xml: valid SAF-T Financial 1.30"
    # account 4000 is grouped through the file's own standard account; the mapping file's override comes first
    assert exported_grouping(out, "4000") == ("RF-1167", "4005")
    with wh.engine.begin() as conn:  # as a SAF-T 1.30 file states it
        conn.execute(update(accounts).where(accounts.c.company == key, accounts.c.number == "4000")
                     .values(account_group="RF-1167:7700"))
    osr("export", "saf-t", "--company", key, "--year", "2015", "--out", str(out))
    assert exported_grouping(out, "4000") == ("RF-1167", "7700")
    (home / "saft-mapping.yaml").write_text(f'companies:\n  {key}:\n    RF-1167: {{"4000": "4300"}}\n')
    osr("export", "saf-t", "--company", key, "--year", "2015", "--out", str(out))
    assert exported_grouping(out, "4000") == ("RF-1167", "4300")
    (home / "saft-mapping.yaml").unlink()
    broken.unlink()
    bad = osr("saf-t", "validate", str(EXAMPLE.parent / EXAMPLE.name)).output
    assert "valid SAF-T Financial 1.10" in bad


@SQLITE
def test_validate_lists_each_problem_with_its_line(home: Path, tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8-sig")
    bad = tmp_path / "bad.xml"
    bad.write_text(text.replace("<n1:Period>10</n1:Period>", "<n1:Period>ten</n1:Period>")
                   .replace("<n1:AccountType>GL</n1:AccountType>", "<n1:AccountType>XX</n1:AccountType>", 1),
                   encoding="utf-8")
    result = osr("saf-t", "validate", str(bad), ok=False)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    numbered = bad.read_text(encoding="utf-8").splitlines()
    account_type = numbered.index("\t\t\t\t<n1:AccountType>XX</n1:AccountType>") + 1
    period = next(i for i, ln in enumerate(numbered, 1) if "<n1:Period>ten<" in ln)
    assert any(ln.startswith(f"bad.xml: line {account_type}: ") and "AccountType" in ln for ln in lines), lines
    assert any(ln.startswith(f"bad.xml: line {period}: ") and "'ten'" in ln for ln in lines), lines
    assert lines[-1] == f"Error: bad.xml: {len(lines) - 1} problems"
    laughs = tmp_path / "laughs.xml"
    laughs.write_bytes(b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]><a>&a;</a>')
    out = osr("saf-t", "validate", str(laughs), ok=False).output
    assert "declares a DOCTYPE" in out and "Traceback" not in out


def two_journals(path: Path, vouchers: int) -> str:
    """A valid SAF-T 1.30 file of two journals (``GL`` and ``AP``) of ``vouchers`` transactions each; its text."""
    lines = [(str(v), 202501 + v % 12, account, amount) for v in range(1, vouchers + 1)
             for account, amount in (("1920", "-10.00"), ("3000", "10.00"))]
    text = saft_file(path, lines=lines).read_text(encoding="utf-8")
    start, end = text.index("<Journal>"), text.index("</Journal>") + len("</Journal>")
    second = (text[start:end].replace("<JournalID>GL<", "<JournalID>AP<")
              .replace("<TransactionID>", "<TransactionID>AP-"))
    return text[:end] + "\n" + second + text[end:]


def whole_tree_problems(path: Path) -> list[tuple[int, str]]:
    """(line, message) of every problem libxml2 finds validating the file as one tree, the XSD unchanged."""
    xsd = etree.XMLSchema(etree.parse(SCHEMAS / SCHEMA_FILES["1.30"]))
    xsd.validate(etree.parse(path))
    return [(e.line, e.message.split("': ", 1)[1]) for e in xsd.error_log]


@SQLITE
def test_validate_finds_a_problem_deep_in_the_journal_by_line_and_place(home: Path, tmp_path: Path) -> None:
    """Transactions are checked one by one as the file streams past: a problem in the third transaction of
    the first journal and one in the fifth of the second come back with their lines and places, exactly as
    validating the whole file as one tree finds them."""
    bad = tmp_path / "bad.xml"
    text = two_journals(bad, 6)
    third = text.index("<Period>", text.index("<TransactionID>3</TransactionID>"))
    text = text[:third] + "<Period>ten" + text[text.index("<", third + 1):]
    fifth = text.index("<RecordID>2</RecordID>", text.index("<TransactionID>AP-5</TransactionID>"))
    text = text[:fifth] + "<Bogus/>" + text[fifth:]
    bad.write_text(text, encoding="utf-8")
    period = text[:text.index("<Period>ten")].count("\n") + 1
    bogus = text[:text.index("<Bogus/>")].count("\n") + 1
    result = osr("saf-t", "validate", str(bad), ok=False)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"bad.xml: line {period}: /AuditFile/GeneralLedgerEntries/Journal[1]/Transaction[3]/Period: 'ten' is not "
        "a valid value of the atomic type 'xs:nonNegativeInteger'.",
        f"bad.xml: line {bogus}: /AuditFile/GeneralLedgerEntries/Journal[2]/Transaction[5]/Line[2]/Bogus: This "
        "element is not expected. Expected is ( RecordID ).",
        "Error: bad.xml: 2 problems"]
    assert [(int(p.split(":")[0].removeprefix("line ")), p.split(": ", 2)[2]) for p in problems(bad)] == [
        (line, message.replace("{urn:StandardAuditFile-Taxation-Financial:NO}", ""))
        for line, message in whole_tree_problems(bad)]


@SQLITE
def test_validate_passes_a_valid_file_of_many_transactions(home: Path, tmp_path: Path) -> None:
    """Dropping each transaction once checked leaves the journals' own order intact: two journals of forty
    transactions are valid, and a journal field after its transactions is still out of place."""
    good = tmp_path / "good.xml"
    text = two_journals(good, 40)
    good.write_text(text, encoding="utf-8")
    assert whole_tree_problems(good) == []
    assert osr("saf-t", "validate", str(good)).output == "good.xml: valid SAF-T Financial 1.30\n"
    late = text.replace("</Transaction></Journal>", "</Transaction><Type>GL</Type></Journal>", 1)
    good.write_text(late, encoding="utf-8")
    line = late[:late.index("<Type>GL</Type></Journal>")].count("\n") + 1
    assert problems(good) == [f"line {line}: /AuditFile/GeneralLedgerEntries/Journal[1]/Type[2]: This element is "
                              "not expected. Expected is ( Transaction )."]
    # the XSD's keys name no namespace, so select nothing: as on the whole tree, neither a repeated transaction id
    # nor an unknown account is a problem (the split loses no check)
    unkeyed = text.replace("<TransactionID>AP-", "<TransactionID>").replace("<AccountID>3000<", "<AccountID>9999<", 1)
    good.write_text(unkeyed, encoding="utf-8")
    assert whole_tree_problems(good) == [] and problems(good) == []


@SQLITE
def test_export_refuses_a_company_without_organisation_number(home: Path) -> None:
    conn = {"name": "demo", "type": "synthetic", "level": "customer", "parent": "Acme",
            "options": {"companies": "1001", "postings": "300", "years": "1"}}
    write_registry(home / "registry.yaml", [conn], [("demo", "1001")])
    osr("import", "full", "--company", "demo.1001")
    refused = osr("export", "saf-t", "--company", "demo.1001", "--year", str(date.today().year), ok=False)
    assert "company 'demo.1001' has no organisation number" in refused.output
    assert "Traceback" not in refused.output
    missing = osr("export", "saf-t", "--company", "demo.9999", "--year", "2025", ok=False).output
    assert "company 'demo.9999' has no rows in the warehouse" in missing

    # an account no grouping rule covers is named, until the mapping file maps it
    folder = home / "saf-t"
    folder.mkdir()
    written = saft_file(folder / "a.xml", lines=[("1", 202503, "0100", "-50.00"), ("1", 202503, "3000", "50.00")])
    own = "<GroupingCategory>RF-1167</GroupingCategory>\n<GroupingCode>0100</GroupingCode>"
    assert own in written.read_text()  # the file's own code goes; the account keeps a 1.10 standard account only
    written.write_text(written.read_text().replace(own, "<StandardAccountID>01</StandardAccountID>"))
    conn = {"name": "files", "type": "saf-t", "level": "customer", "parent": "Acme", "options": {"path": str(folder)}}
    write_registry(home / "registry.yaml", [conn], [("files", SAFT_ORG)])
    osr("import", "full", "--company", f"files.{SAFT_ORG}")
    out = home / "out.xml"
    refused = osr("export", "saf-t", "--company", f"files.{SAFT_ORG}", "--year", "2025", "--out", str(out),
                  ok=False).output
    assert "SAF-T 1.30 needs a grouping code for every account" in refused and "  account 0100" in refused
    assert not out.exists()
    (home / "saft-mapping.yaml").write_text(f'companies:\n  files.{SAFT_ORG}:\n    RF-1167: {{"0100": "1000"}}\n')
    osr("export", "saf-t", "--company", f"files.{SAFT_ORG}", "--year", "2025", "--out", str(out))
    assert problems(out, "1.30") == [] and "<GroupingCode>1000</GroupingCode>" in out.read_text()
    nowhere = osr("export", "saf-t", "--company", f"files.{SAFT_ORG}", "--year", "2025", "--out",
                  str(home / "missing" / "out.xml"), ok=False).output
    assert "cannot be written (No such file or directory); nothing was written" in nowhere
    assert "Traceback" not in nowhere


@SQLITE
def test_round_trip_from_tripletex_over_http(home: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    books = SyntheticBooks(company_ids=("2001",), postings=1500, years=2, mutations_path=home / "books.json")
    year = books.end.year - 1
    org = "912345670"
    folder = home / "saf-t"
    folder.mkdir()
    sandbox = SANDBOXES["tripletex"]
    wh = Warehouse(warehouse_url)
    with running(sandbox.app(books, None, {})) as base:
        options, credentials = sandbox.login(base, books, {})
        for field, value in credentials.items():
            monkeypatch.setenv(f"SRC_{field.upper()}", value)
        src = {"name": "src", "type": "tripletex", "level": "customer", "parent": "Acme", "options": options,
               "credentials": {field: f"SRC_{field.upper()}" for field in credentials}}
        back = {"name": "back", "type": "saf-t", "level": "customer", "parent": "Acme",
                "options": {"path": str(folder)}}
        registry = write_registry(home / "registry.yaml", [src, back], [("src", "2001"), ("back", org)])
        data = yaml.safe_load(registry.read_text())
        data["companies"][0]["organization_number"] = org
        registry.write_text(yaml.safe_dump(data, sort_keys=False))
        assert "SUCCESS" in osr("import", "full", "--company", "src.2001").output

    out = folder / "export.xml"
    osr("export", "saf-t", "--company", "src.2001", "--year", str(year), "--out", str(out))
    assert problems(out, "1.30") == []
    assert "SUCCESS" in osr("import", "full", "--company", f"back.{org}").output

    original, again = tb_rows(wh, "src.2001", year), tb_rows(wh, f"back.{org}", year)
    assert original and again == original
    assert any(opening for opening, _, _ in original.values())  # the year opens with balances carried over

    def parties(key: str, dimension: str) -> set[tuple]:
        table = dimension_tables[dimension]
        with wh.engine.connect() as conn:
            return set(conn.execute(select(table.c.id, table.c.name, table.c.organization_number)
                                    .where(table.c.company == key)))

    for dimension in ("customers", "suppliers"):
        assert parties("src.2001", dimension) and parties(f"back.{org}", dimension) == parties("src.2001", dimension)
    assert not [w for w in warnings_of(home) if "but the file states closing" in w]
