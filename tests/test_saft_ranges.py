"""RF-1167 / RF-1175 by NS 4102 ranges, from the code lists shipped with the package: the issue's accounts,
the demo's and every sandbox's chart without an unmapped account, and a new account named once."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import yaml

from osr_pipelines.connectors.synthetic_books import ACCOUNTS, SyntheticBooks
from osr_pipelines.registry import load_registry
from osr_pipelines.reports import ledger, saft, saft_ranges
from osr_pipelines.reports.build import build_report
from osr_sandbox.erps import SANDBOXES
from osr_sandbox.server import running

from .conftest import write_registry
from .report_books import COMPANY, insert_books

SHARED_CODES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "saf-t"


@pytest.fixture(autouse=True)
def shipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> saft.CodeLists:
    """The lists shipped with the package, and no mapping file: what a fresh install has."""
    monkeypatch.delenv("OSR_SAFT_CODES", raising=False)
    monkeypatch.setenv("OSR_SAFT_MAPPING", str(tmp_path / "none.yaml"))
    return saft.CodeLists.load()


@pytest.mark.parametrize(("account", "rf1167"), [
    ("4000", "4005"), ("4300", "4005"), ("2700", "2740"), ("2710", "2740"), ("7100", "7155"), ("7140", "7165"),
    ("6900", "6995"), ("2050", "2059"),  # the examples
    ("1920", "1920"), ("4310", "4005"), ("19201", "1920"), ("4290", "4295"),
])
def test_accounts_map_by_exact_code_then_range(account: str, rf1167: str) -> None:
    assert saft.mapping(COMPANY, "RF-1167").code(account) == rf1167


def test_the_shipped_lists_are_the_published_ones_with_their_notice() -> None:
    assert saft.codes_folder() == saft.SHIPPED_CODES
    for name in saft.CODE_LISTS:
        shipped = saft.code_list_path(name)
        assert shipped.read_bytes() == (SHARED_CODES / shipped.name).read_bytes()
    notice = (saft.SHIPPED_CODES / "COPYRIGHT-GL-Standard-Accounts.txt").read_text()
    assert "may only be used in connection with SAF-T mapping" in notice
    rows = saft.read_code_list("RF-1167")
    assert {"GroupingCategory": "RF-1167", "GroupingCode": "4005", "CodeDescriptionNOB": "Varekostnad"}.items() <= \
        next(r for r in rows if r["GroupingCode"] == "4005").items()


def test_the_range_table_names_only_published_codes_and_covers_every_standard_account(shipped) -> None:
    rf1167, rf1175 = shipped.grouping["RF-1167"], shipped.grouping["RF-1175"]
    assert {code for _, code in saft_ranges.RF1167_RANGES if code} <= set(rf1167)
    assert {code for code in saft_ranges.RF1175_FROM_RF1167.values() if code} <= set(rf1175)
    standard = [a for a in shipped.standard if "1000" <= a <= "8999"]
    assert len(standard) > 700
    assert [a for a in standard if shipped.grouping_code("RF-1167", a) is None] == []
    # RF-1175 (sole proprietors) has no codes for tax and the transfers to equity
    assert {a for a in standard if shipped.grouping_code("RF-1175", a) is None} == {
        a for a in standard if "8300" <= a <= "8999"}


def test_the_demos_chart_has_no_unmapped_account() -> None:
    chart = {number for number, *_ in ACCOUNTS}
    assert len(chart) == 35
    for level in saft.LEVELS:
        assert saft.mapping("demo.1001", level).unmapped(chart) == [], level


@pytest.mark.parametrize("erp", sorted(SANDBOXES))
def test_every_sandboxs_chart_has_no_unmapped_account(erp: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The accounts each sandbox serves, read through its connector as an import reads them."""
    books = SyntheticBooks(company_ids=("2001",), postings=50, years=1)
    sandbox = SANDBOXES[erp]
    with running(sandbox.app(books, None, {})) as base:
        options, credentials = sandbox.login(base, books, {})
        for field, value in credentials.items():
            monkeypatch.setenv(f"SRC_{field.upper()}", value)
        conn = {"name": "src", "type": erp, "level": "customer", "parent": "Acme", "options": options,
                "credentials": {field: f"SRC_{field.upper()}" for field in credentials}}
        registry = load_registry(write_registry(tmp_path / "registry.yaml", [conn], [("src", "2001")]))
        with closing(registry.connection("src").connector()) as connector:
            chart = {str(row[1]) for batch in connector.stream_dimension("2001", "accounts") for row in batch}
    assert len(chart) >= 30
    for level in saft.LEVELS:
        assert saft.mapping("src.2001", level).unmapped(chart) == [], (erp, level)


def test_a_new_account_no_range_covers_is_named_once(warehouse_url: str) -> None:
    wh = insert_books(warehouse_url)
    with wh.engine.begin() as conn:
        conn.exec_driver_sql("insert into gl_postings (company, posting_id, voucher_number, voucher_date, period, "
                             "account, amount, currency, amount_currency) values "
                             f"('{COMPANY}', 'N1', 'N1', '2023-12-28', 202312, '9100', 25, 'SEK', 25), "
                             f"('{COMPANY}', 'N2', 'N1', '2023-12-28', 202312, '1920', -25, 'SEK', -25)")
    books = ledger.from_warehouse(wh.engine, COMPANY, 202201, 202312)
    wh.dispose()
    report = build_report("balance-sheet", books, 202312, "RF-1167")
    assert saft.mapping(COMPANY, "RF-1167").unmapped(set(report.trial_balance.accounts)) == ["9100"]


def test_osr_saft_codes_overrides_the_shipped_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    for name in saft.CODE_LISTS:
        (folder / saft.code_list_path(name).name).write_bytes(saft.code_list_path(name).read_bytes())
    rf1167 = folder / "RF-1167_Grouping_Category_Code.csv"
    rf1167.write_text(rf1167.read_text(encoding="utf-8").replace(";4005;Varekostnad;", ";4005;Varekost (ny);"),
                      encoding="utf-8")
    monkeypatch.setenv("OSR_SAFT_CODES", str(folder))
    mapping = saft.mapping(COMPANY, "RF-1167")
    assert mapping.grouping()("4300").name == "Varekost (ny)"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"companies": {COMPANY: {"RF-1167": {"4300": "4500"}}}}))
    monkeypatch.setenv("OSR_SAFT_MAPPING", str(tmp_path / "m.yaml"))
    assert saft.mapping(COMPANY, "RF-1167").code("4300") == "4500"  # the mapping file has the last word
