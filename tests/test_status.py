"""`osr status` tells the truth: a company's latest check results fold into its health and its connection's."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, DagsterInstance

from osr_pipelines.status import describe_check
from osr_pipelines.warehouse.loader import Warehouse
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr


@pytest.fixture
def synthetic(home: Path) -> Path:
    """Connection ``syn``, synthetic, companies 2001 and 2002."""
    write_registry(home / "registry.yaml", [synthetic_connection("syn", companies="2001,2002", postings="3000",
                                                                 years="1")], [("syn", "2001"), ("syn", "2002")])
    return home


def _set_postings(home: Path, connection: str, postings: int) -> None:
    path = home / "registry.yaml"
    data = yaml.safe_load(path.read_text())
    [conn] = [c for c in data["connections"] if c["name"] == connection]
    conn["options"]["postings"] = str(postings)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _block(out: str, connection: str) -> str:
    """The connection's header and its company lines."""
    return re.search(rf"^{connection} \(.*?(?=^\S|\Z)", out, re.S | re.M).group(0)


def test_status_names_failed_and_warning_checks(synthetic: Path) -> None:
    home = synthetic
    assert osr("import", "full", "--all").output.count("SUCCESS") == 2
    assert _block(osr("status").output, "syn").startswith("syn (synthetic, import): healthy\n")

    # the ERP loses nine tenths of 2002's books: the full import keeps a tenth of the rows (a warning)
    _set_postings(home, "syn", 300)
    osr("import", "full", "--company", "syn.2002")
    # and a check of severity error fails on 2001 (reported as Dagster records any check evaluation:
    # no source in this project serves vouchers that do not balance)
    instance = DagsterInstance.from_config(str(home / "dagster"))
    instance.report_runless_asset_event(AssetCheckEvaluation(
        asset_key=AssetKey("gl_postings"), check_name="vouchers_balance", passed=False,
        severity=AssetCheckSeverity.ERROR, partition="syn.2001",
        metadata={"unbalanced_vouchers": 3, "examples": [["2025000017", "2025-03-04", "10.0"]]}))
    syn = _block(osr("status").output, "syn")
    assert syn.startswith("syn (synthetic, import): failing (1 of 2 companies), warnings (1 of 2 companies)"), syn
    lines = [line.strip() for line in syn.splitlines()]
    assert "failed: vouchers_balance: 3 unbalanced vouchers (e.g. 2025000017)" in lines, syn
    [drop] = [line for line in lines if line.startswith("warning: no_large_drop:")]
    assert re.fullmatch(r"warning: no_large_drop: the load replaced [\d,]+ rows with [\d,]+ \(\d+% kept\)", drop)
    assert sum(line.startswith(("failed:", "warning:")) for line in lines) == 2  # one line per problem

    report = json.loads(osr("status", "--json").stdout)
    assert report["detached_companies"] == []
    [conn] = report["connections"]
    assert {k: conn[k] for k in ("name", "type", "mode", "status", "missing_variables")} == {
        "name": "syn", "type": "synthetic", "mode": "import", "status": "failing", "missing_variables": []}
    first, second = conn["companies"]
    wh = Warehouse(os.environ["OSR_WAREHOUSE_URL"])
    assert (first["key"], first["status"], first["rows"]) == ("syn.2001", "failing", wh.count_postings("syn.2001"))
    assert (second["key"], second["status"], second["rows"]) == ("syn.2002", "warning", wh.count_postings("syn.2002"))
    assert first["last_run"]["status"] == "SUCCESS" and first["errors"] == []
    assert datetime.fromisoformat(first["last_import"]["finished_at"]).date() == date.today()
    assert set(first["last_import"]) == {"finished_at", "window_start", "window_end", "rows_written"}
    checks = {c["name"]: c for c in first["checks"]}
    assert set(checks) == {"vouchers_balance", "no_large_drop", "row_count_matches_source", "dimensions_resolve"}
    assert {k: checks["vouchers_balance"][k] for k in ("passed", "severity", "problem")} == {
        "passed": False, "severity": "ERROR", "problem": "failed"}
    assert checks["vouchers_balance"]["figures"]["unbalanced_vouchers"] == 3
    assert checks["row_count_matches_source"]["passed"] is True
    assert checks["row_count_matches_source"]["figures"]["warehouse_rows"] == first["rows"]
    drop = next(c for c in second["checks"] if c["name"] == "no_large_drop")
    assert (drop["passed"], drop["severity"], drop["problem"]) == (False, "WARN", "warning")
    assert drop["figures"]["rows_written"] == second["rows"] < drop["figures"]["rows_before"]

    # the latest evaluation counts: importing 2002 again at its new size passes the check
    osr("import", "full", "--company", "syn.2002")
    syn = _block(osr("status").output, "syn")
    assert syn.startswith("syn (synthetic, import): failing (1 of 2 companies)\n"), syn
    assert "no_large_drop" not in syn


@pytest.mark.parametrize(("check", "figures", "says"), [
    ("row_count_matches_source", {"warehouse_rows": 4980, "rows_received": 4980, "erp_reported_rows": 5200,
                                  "erp_count_exact": False}, "warehouse 4,980 rows, ERP reported 5,200 (approximate)"),
    ("row_count_matches_source", {"warehouse_rows": 119, "rows_received": 119, "erp_reported_rows": 120,
                                  "erp_count_exact": True}, "warehouse 119 rows, ERP reported 120 (exact)"),
    ("row_count_matches_source", {"warehouse_rows": 120, "rows_received": 121, "erp_reported_rows": None},
     "warehouse 120 rows, 121 received from the ERP"),
    ("vouchers_balance", {"unbalanced_vouchers": 1, "examples": []}, "1 unbalanced voucher"),
    ("no_large_drop", {"rows_before": 5000, "rows_written": 1200, "kept_ratio": 0.24},
     "the load replaced 5,000 rows with 1,200 (24% kept)"),
    ("dimensions_resolve", {"account": {"missing_values": 2, "postings": 14, "examples": ["9998", "9999"]}},
     "account: 2 values missing, in 14 postings (e.g. 9998, 9999)"),
    ("a_newer_check", {"mismatches": 1234, "detail": {"a": 1}}, "mismatches 1,234"),
    ("vouchers_balance", {"a_renamed_figure": 3}, "a renamed figure 3"),
])
def test_check_figures_in_words(check: str, figures: dict, says: str) -> None:
    assert describe_check(check, figures) == says


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_status_names_credential_variables_missing_in_this_shell(home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSR_STATUS_KEY", "set-here")
    monkeypatch.delenv("OSR_STATUS_TOKEN", raising=False)
    monkeypatch.delenv("OSR_STATUS_OTHER", raising=False)
    ok = {**synthetic_connection("ok", companies="1001"), "credentials": {"api_key": "OSR_STATUS_KEY"}}
    one = {**synthetic_connection("one", companies="1001"), "credentials": {"api_key": "OSR_STATUS_TOKEN"}}
    two = {"name": "two", "type": "tripletex", "level": "customer", "parent": "Acme",
           "credentials": {"consumer_token": "OSR_STATUS_TOKEN", "employee_token": "OSR_STATUS_OTHER"}}
    write_registry(home / "registry.yaml", [ok, one, two], [("ok", "1001"), ("one", "1001"), ("two", "1001")])
    out = osr("status").output
    assert "not set in this shell" not in _block(out, "ok")
    [line] = [ln.strip() for ln in _block(out, "one").splitlines() if "not set" in ln]
    assert line == ("not set in this shell: OSR_STATUS_TOKEN (api_key); set it here to test or import from this "
                    "shell, and in the environment of the Dagster daemon and code server too, whose runs read it "
                    "when they start")
    [line] = [ln.strip() for ln in _block(out, "two").splitlines() if "not set" in ln]
    assert line.startswith("not set in this shell: OSR_STATUS_TOKEN (consumer_token), OSR_STATUS_OTHER "
                           "(employee_token); set them here")
    assert "set-here" not in out
    report = json.loads(osr("status", "--json").stdout)
    assert [c["missing_variables"] for c in report["connections"]] == [
        [], ["OSR_STATUS_TOKEN"], ["OSR_STATUS_TOKEN", "OSR_STATUS_OTHER"]]
    assert [c["status"] for c in report["connections"]] == ["no imports yet"] * 3
    assert "set-here" not in json.dumps(report)
