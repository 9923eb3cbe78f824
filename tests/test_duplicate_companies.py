"""A company another connection already imports is named in `osr company add` (confirm or cancel) and in `osr status`.

Covered for two connection types: two synthetic connections reaching the same
ERP company id, and a 24SevenOffice connection (over its sandbox) reaching a
company a synthetic connection imports, known by its organisation number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.duplicates import organisation_number
from osr_pipelines.registry import load_registry
from osr_sandbox import twentyfourseven
from osr_sandbox.server import running
from tests.helpers import osr

SQLITE = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)


def synthetic(name: str, companies: str) -> None:
    osr("connection", "add", name, "--type", "synthetic", "--option", f"companies={companies}",
        "--option", "postings=200", "--option", "years=1")


def keys(home: Path) -> list[str]:
    return [c.key for c in load_registry(home / "registry.yaml").companies]


@SQLITE
def test_the_same_erp_company_id_under_the_same_erp_is_asked_about(home: Path) -> None:
    osr("init", "--customer", "Acme")
    synthetic("north", "1001,1002")
    synthetic("south", "1001,1003")
    osr("company", "add", "north", "1001")
    # added before organisation numbers were kept: only the ERP company id tells them apart
    path = home / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    data["companies"][0]["organization_number"] = ""
    path.write_text(yaml.safe_dump(data, sort_keys=False))

    cancelled = osr("company", "add", "south", "1001", ok=False, input="n\n")
    assert cancelled.exit_code == 1 and "Aborted" in cancelled.output
    assert ("warning: south.1001 (Skogly 1001 AS) is the same company as north.1001 (Skogly 1001 AS): "
            "the same synthetic company id 1001; reports would count it twice") in cancelled.output
    assert keys(home) == ["north.1001"]

    unrelated = osr("company", "add", "south", "1003")  # no question where nothing is doubled
    assert "warning" not in unrelated.output and "anyway" not in unrelated.output
    confirmed = osr("company", "add", "south", "1001", "--yes")
    assert "the same synthetic company id 1001" in confirmed.output and "added south.1001" in confirmed.output
    assert keys(home) == ["north.1001", "south.1003", "south.1001"]

    status = osr("status").output
    for key, other in (("north.1001", "south.1001"), ("south.1001", "north.1001")):
        assert f"warning: imported twice: {key} (Skogly 1001 AS) is the same company as {other}" in status
    assert status.count("imported twice") == 2


@SQLITE
def test_the_same_organisation_number_across_types_is_asked_about(home: Path, monkeypatch) -> None:
    osr("init", "--customer", "Acme")
    synthetic("north", "1001,1002")
    osr("company", "add", "north", "1001")
    books = SyntheticBooks(company_ids=("1001", "2001"), postings=200, years=1)
    secrets = {"TFSO_APPLICATION_ID": twentyfourseven.DEFAULT_APPLICATION_ID,
               "TFSO_USERNAME": twentyfourseven.DEFAULT_USERNAME, "TFSO_PASSWORD": twentyfourseven.DEFAULT_PASSWORD}
    for var, value in secrets.items():
        monkeypatch.setenv(var, value)
    with running(twentyfourseven.app(books)) as base:
        osr("connection", "add", "tfso", "--type", "24sevenoffice",
            "--credential", "application_id=TFSO_APPLICATION_ID", "--credential", "username=TFSO_USERNAME",
            "--credential", "password=TFSO_PASSWORD", "--option", f"base_url={base}",
            "--option", f"webservices_url={base}{twentyfourseven.SECOND_DOMAIN}")
        # The 24SevenOffice company 1001 is another ERP's company id, but the same organisation number.
        added = osr("company", "add", "tfso", "1001", "2001", input="y\n")
    assert ("warning: tfso.1001 (Skogly 1001 AS) is the same company as north.1001 (Skogly 1001 AS): "
            "the same organisation number 900001001") in added.output
    assert added.output.count("warning:") == 1 and "added tfso.2001" in added.output
    assert keys(home) == ["north.1001", "tfso.1001", "tfso.2001"]

    report = json.loads(osr("status", "--json").output)
    warned = {co["key"]: co["warnings"] for conn in report["connections"] for co in conn["companies"]}
    assert [w.split(":")[0] for w in warned["tfso.1001"]] == ["imported twice"]
    assert "north.1001" in warned["tfso.1001"][0] and "tfso.1001" in warned["north.1001"][0]
    assert warned["tfso.2001"] == []


def test_organisation_numbers_compare_without_formatting() -> None:
    assert organisation_number("NO 912 345 678 MVA") == organisation_number("912345678") == "912345678"
    assert organisation_number("556036-0793") == "5560360793"
    assert organisation_number(None) == organisation_number("  ") == ""
