"""Customer Insight: at customer level only, one company, created by a customer administrator; its export imports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from dagster._core.test_utils import instance_for_test
from sqlalchemy import select

from osr_pipelines.registry import RegistryError, load_registry
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import gl_postings
from tests.helpers import osr

WHY = ("Customer Insight is the customer's own analytics: one connection per customer, holding the customer's "
       "one company")
EXPORT = """voucher_number,voucher_date,account,amount,description,project
10,2024-01-15,3000,-1200.50,Sale,P1
10,2024-01-15,1500,1200.50,Sale,
11,2024-02-03,6300,400,Rent,P1
11,2024-02-03,1920,-400,Rent,
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    monkeypatch.setenv("OSR_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'warehouse.db'}")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OSR_USER", "")
    (tmp_path / "insight.csv").write_text(EXPORT)
    data = {"customers": [{"name": "Acme", "groups": [{"name": "North", "clients": [{"name": "Fjord"}]}]}],
            "users": [{"name": "ada", "parent": "Acme", "role": "admin"}, {"name": "nils", "parent": "Acme"}]}
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return tmp_path


def _add(home: Path, user: str, *args: str, ok: bool = True):
    return osr("--as", user, "connection", "add", "ci", "--type", "customer-insight",
               "--option", f"export={home / 'insight.csv'}", "--option", "company_name=Acme Retail AS", *args, ok=ok)


def test_only_a_customer_administrator_creates_it_and_only_at_customer_level(home: Path) -> None:
    refused = _add(home, "nils", ok=False)  # nils administers the whole customer, but is no administrator
    assert ("refused: a customer-insight connection is created by a customer administrator of 'Acme' ('ada'); "
            "you act as 'nils'") in refused.output
    at_group = _add(home, "ada", "--level", "group", "--parent", "North", ok=False)
    assert at_group.exit_code == 2
    assert f"--level: connection 'ci': field 'level': must be 'customer', not 'group' ({WHY})" in at_group.output
    _add(home, "ada")
    assert load_registry(home / "registry.yaml").connection("ci").level == "customer"


def test_a_second_company_is_refused_saying_why(home: Path) -> None:
    _add(home, "ada")
    osr("--as", "ada", "company", "add", "ci", "1")
    [company] = load_registry(home / "registry.yaml").companies
    assert (company.key, company.name, company.client) == ("ci.1", "Acme Retail AS", "Acme Retail AS")

    data = yaml.safe_load((home / "registry.yaml").read_text())
    data["companies"].append({**data["companies"][0], "erp_id": "2"})
    (home / "registry.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(RegistryError) as caught:
        load_registry(home / "registry.yaml")
    assert caught.value.problems == [f"connection 'ci': field 'companies': holds 2 companies (ci.1, ci.2); it may "
                                     f"hold one ({WHY}). Keep ci.1 and give the others a connection of their own"]


def test_the_export_imports_as_the_companys_postings(home: Path) -> None:
    _add(home, "ada")
    osr("--as", "ada", "company", "add", "ci", "1")
    with instance_for_test() as instance:
        [outcome] = run_imports(instance, "full", ["ci.1"])
    assert outcome.status == "SUCCESS", outcome.error
    wh = Warehouse(f"sqlite:///{home / 'warehouse.db'}")
    c = gl_postings.c
    with wh.engine.connect() as conn:
        rows = conn.execute(select(c.voucher_number, c.voucher_date, c.account, c.amount, c.project)
                            .where(c.company == "ci.1").order_by(c.posting_id)).all()
    assert [tuple(r) for r in rows] == [
        ("10", date(2024, 1, 15), "3000", Decimal("-1200.50"), "P1"),
        ("10", date(2024, 1, 15), "1500", Decimal("1200.50"), None),
        ("11", date(2024, 2, 3), "6300", Decimal("400.00"), "P1"),
        ("11", date(2024, 2, 3), "1920", Decimal("-400.00"), None),
    ]


def test_a_malformed_export_fails_naming_file_line_and_field(home: Path) -> None:
    _add(home, "ada")
    osr("--as", "ada", "company", "add", "ci", "1")
    (home / "insight.csv").write_text(EXPORT.replace("2024-02-03,6300", "03.02.2024,6300"))
    with instance_for_test() as instance:
        [outcome] = run_imports(instance, "full", ["ci.1"])
    assert outcome.status == "FAILURE"
    assert (f"connection 'ci', ERP company '1', field 'voucher_date': export file {home / 'insight.csv'}, line 4: "
            "'03.02.2024' is not a date (YYYY-MM-DD)") in outcome.error


@pytest.mark.parametrize(("content", "says"), [
    (EXPORT.encode() + b"\xff\xfe\x00\x01 binary\n", ": is not UTF-8 CSV text; export it again as CSV (UTF-8)"),
    (EXPORT.encode() + b'12,2024-03-01,3000,"' + b"x" * 200_000 + b'"\n',
     ", line 6: is not a readable CSV export (field larger than field limit (131072))"),
])
def test_an_export_that_is_not_csv_text_fails_in_one_line(home: Path, content: bytes, says: str) -> None:
    _add(home, "ada")
    osr("--as", "ada", "company", "add", "ci", "1")
    (home / "insight.csv").write_bytes(content)
    with instance_for_test() as instance:
        [outcome] = run_imports(instance, "full", ["ci.1"])
    assert outcome.status == "FAILURE"
    assert f"connection 'ci', ERP company '1': export file {home / 'insight.csv'}{says}" in outcome.error
    assert "Traceback" not in outcome.error
