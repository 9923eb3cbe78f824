"""The HTML report as a person sees it: a headless Chromium screenshot and the DOM it built, checked for the
warning box at the top and the balance sheet's sums."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from .helpers import osr
from .report_books import COMPANY
from .test_report_files import CHROMIUM, N, browser_dom, grid_rows
from .test_report_warnings import books_home, unbalanced_voucher  # noqa: F401 (a fixture)

WARNING_RED = (176, 0, 32)  # the warning box's border, #b00020


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1200, 1400)) -> Image.Image:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", "--hide-scrollbars", f"--window-size={size[0]},{size[1]}",
                    f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120, check=True)
    return Image.open(png).convert("RGB")


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_balance_sheet_that_does_not_balance_shows_its_warning_first(books_home: Path, warehouse_url: str,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    unbalanced_voucher(warehouse_url)  # bank +100, sales -90 on 2024-01-15
    result = osr("report", "balance-sheet", "--company", COMPANY, "--period", "2024-01", "--allow-warnings")
    page = books_home / "reports" / "books.sek-balance-sheet-2024-01.html"
    assert str(page) in result.output
    dom = browser_dom(page)
    warnings = [" ".join(t).strip() for tag, a, t in dom.elements if tag == "li"]
    assert warnings[0].startswith("Saldobalansen for Company sek summerer ikke til null: 10,00 fra 2024-01.")
    assert "bilag V9 (2024-01-15, sum 10,00)" in warnings[0]
    assert warnings[1].endswith("skiller seg med Per 2024-01: 10,00.")
    sums = {row[1]: row[2:] for row in grid_rows(dom, "total")}
    assert sums["Sum eiendeler"] == [f"1{N}800,00", f"1{N}400,00"]  # bank 1 700 + 100
    assert sums["Sum egenkapital og gjeld"] == [f"1{N}790,00", f"1{N}400,00"]  # the result took only 90 of it
    image = screenshot(page, tmp_path / "balance-sheet.png")
    assert image.size == (1200, 1400)
    red_rows = [y for y in range(image.height) if any(image.getpixel((x, y)) == WARNING_RED
                                                      for x in range(0, image.width, 4))]
    assert red_rows and red_rows[0] < 250 and red_rows[-1] < 600  # the box is drawn, above the statement
    assert len(set(image.crop((0, 600, 1200, 1400)).getdata())) > 10  # and the statement below it is drawn too
