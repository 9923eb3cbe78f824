"""Every option of every connection type is checked, with type and range, at load and at `osr connection add`.

Reproduced before: Tripletex ``page_size: '0'`` or ``workers: '0'`` made a full
import report success with no postings; ``workers: '-1'`` hung.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
import yaml

from osr_pipelines.connectors import synthetic
from osr_pipelines.connectors.base import ConnectorError
from osr_pipelines.connectors.catalog import CONNECTOR_TYPES, ConnectorType
from osr_pipelines.connectors.poweroffice import client as poweroffice
from osr_pipelines.connectors.tripletex import client as tripletex
from osr_pipelines.connectors.vismanet import client as vismanet
from osr_pipelines.connectors.xledger import client as xledger
from osr_pipelines.registry import RegistryError, load_registry
from tests.conftest import write_registry
from tests.helpers import osr

#: Valid values for options without a default (their absence means something of its own).
SAMPLES = {"end": "2024-06-30", "state": "books.json", "fail_after_rows": "1000", "entity": "ACME",
           "ledger": "L", "rate_state_dir": "ratelimits", "token_url": "https://example.com/OAuth/Token",
           "tenant_id": "5f0c0a2e-0000-4000-8000-000000000001", "accepted_key_sha256": "0" * 64,
           "export": "insight.csv", "company_name": "Acme Retail AS", "ca_file": "gateway-ca.pem",
           "document_center_path": "D:\\Visma\\DocumentCenter", "path": "saf-t-files", "tenant": "10355-vismaosr",
           "customer": "4200001", "currency": "NOK"}


def _credentials(ctype: ConnectorType) -> dict[str, str]:
    fields = [*ctype.credentials, *ctype.credential_families]
    return {f: f"OSR_TEST_{f.upper()}" for f in fields}


def _required(ctype: ConnectorType) -> dict[str, str]:
    return {name: SAMPLES[name] for name, spec in ctype.options.items() if spec.required}


def _connection(ctype: ConnectorType, options: dict[str, str]) -> dict:
    return {"name": "conn", "type": ctype.name, "parent": "Acme", "credentials": _credentials(ctype),
            "options": options}


BAD = [pytest.param(t, spec.name, value, id=f"{t}-{spec.name}-{value!r}")
       for t, ctype in CONNECTOR_TYPES.items() for spec in ctype.options.values()
       for value in spec.invalid_examples]


@pytest.mark.parametrize(("type_name", "option", "value"), BAD)
def test_a_bad_option_value_is_refused_at_load_naming_the_option(tmp_path: Path, type_name: str, option: str,
                                                                 value: str) -> None:
    ctype = CONNECTOR_TYPES[type_name]
    path = write_registry(tmp_path / "r.yaml", [_connection(ctype, {**_required(ctype), option: value})], [])
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    [problem] = err.value.problems
    assert problem.startswith(f"connection 'conn': field 'options.{option}': must be "), problem
    assert problem.endswith(f", not {value!r}"), problem


@pytest.mark.parametrize(("type_name", "option", "value"), BAD)
def test_a_bad_option_value_is_refused_by_connection_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         type_name: str, option: str, value: str) -> None:
    ctype = CONNECTOR_TYPES[type_name]
    registry = _home(tmp_path, monkeypatch)
    before = registry.read_bytes()
    args = [arg for f, var in _credentials(ctype).items() for arg in ("--credential", f"{f}={var}")]
    args += [arg for k, v in {**_required(ctype), option: value}.items() for arg in ("--option", f"{k}={v}")]
    result = osr("connection", "add", "conn", "--type", type_name, *args, ok=False)
    assert result.exit_code == 2  # an argument error, not a corrupt file
    assert f"--option: connection 'conn': field 'options.{option}': must be " in result.output
    assert "invalid registry" not in result.output
    assert registry.read_bytes() == before


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    monkeypatch.setenv("OSR_REGISTRY", str(tmp_path / "registry.yaml"))
    return write_registry(tmp_path / "registry.yaml", [], [])


@pytest.mark.parametrize("type_name", sorted(CONNECTOR_TYPES))
def test_valid_values_load_and_are_kept_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                type_name: str) -> None:
    ctype = CONNECTOR_TYPES[type_name]
    options = {name: spec.default if spec.default is not None else SAMPLES[name]
               for name, spec in ctype.options.items()}
    path = write_registry(tmp_path / "r.yaml", [_connection(ctype, options)], [])
    assert load_registry(path).connection("conn").options == options

    registry = _home(tmp_path, monkeypatch)
    args = [arg for f, var in _credentials(ctype).items() for arg in ("--credential", f"{f}={var}")]
    args += [arg for k, v in options.items() for arg in ("--option", f"{k}={v}")]
    osr("connection", "add", "conn", "--type", type_name, *args)
    assert load_registry(registry).connection("conn").options == options


@pytest.mark.parametrize("type_name", sorted(CONNECTOR_TYPES))
def test_unknown_options_are_refused_naming_the_known_ones(tmp_path: Path, type_name: str) -> None:
    ctype = CONNECTOR_TYPES[type_name]
    path = write_registry(tmp_path / "r.yaml", [_connection(ctype, {**_required(ctype), "page_sise": "10"})], [])
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert err.value.problems == [f"connection 'conn': field 'options.page_sise': not an option of type "
                                  f"'{type_name}' (known: {', '.join(sorted(ctype.options))})"]


def test_a_required_option_is_named_when_missing(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [_connection(CONNECTOR_TYPES["visma-net"], {})], [])
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert err.value.problems == ["connection 'conn': field 'options.tenant_id': missing: set it to the company "
                                  "tenant ids (comma-separated) without surrounding blanks or control characters"]


def test_options_that_are_not_text_or_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"connections": [
        {"name": "a", "type": "tripletex", "options": {"page_size": True, "workers": [1], "timeout": None}}]},
        sort_keys=False))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert err.value.problems[:3] == [
        "connections[0] (a): field 'options.page_size': must be text, not true",
        "connections[0] (a): field 'options.workers': must be text, not a list",
        "connections[0] (a): field 'options.timeout': must be text, not empty (null)",
    ]


def test_build_refuses_a_bad_option_even_without_the_registry() -> None:
    with pytest.raises(ConnectorError) as err:
        CONNECTOR_TYPES["tripletex"].build("tt", {"workers": "-1"}, {"consumer_token": "c", "employee_token": "e"})
    assert str(err.value) == "connection 'tt': option 'workers': must be a whole number from 1 to 32, not '-1'"


def test_the_declared_defaults_are_the_connectors_own(tmp_path: Path) -> None:
    """The catalog fills in defaults before building; a connector built directly must behave the same."""

    def default(type_name: str, option: str) -> str | None:
        return CONNECTOR_TYPES[type_name].options[option].default

    tt = tripletex.TripletexConnector("t", {}, {"consumer_token": "c", "employee_token": "e"})
    vn = vismanet.VismaNetConnector("v", {"tenant_id": "t"}, {"client_id": "i", "client_secret": "s"})
    xl = xledger.XledgerConnector("x", {}, {"token": "t"})
    po = poweroffice.PowerOfficeConnector("p", {"rate_state_dir": str(tmp_path)}, {
        "application_key": "a", "subscription_key": "s", "client_key": "k"})
    sy = synthetic.SyntheticConnector("s", {}, {})
    for connector in (tt, vn, xl, po, sy):
        with closing(connector):
            pass
    assert (str(tt.page_size), str(tt.session_days), str(tt.workers)) == (
        default("tripletex", "page_size"), default("tripletex", "session_days"), default("tripletex", "workers"))
    assert default("tripletex", "base_url") == tripletex.DEFAULT_BASE_URL
    assert (str(vn.page_size), str(vn.period_margin), str(vn.workers), vn.currency) == (
        default("visma-net", "page_size"), default("visma-net", "period_margin"), default("visma-net", "workers"),
        default("visma-net", "currency"))
    assert (default("visma-net", "base_url"), default("visma-net", "token_url"), default("visma-net", "scope")) == (
        vismanet.DEFAULT_BASE_URL, vismanet.DEFAULT_TOKEN_URL, vismanet.DEFAULT_SCOPE)
    assert (str(xl.page_size), xl.department_kind, str(xl.slots.department), str(xl.slots.project)) == (
        default("xledger", "page_size"), default("xledger", "department_kind"),
        default("xledger", "department_object"), default("xledger", "project_object"))
    assert default("xledger", "base_url") == xledger.DEFAULT_BASE_URL
    assert (str(po.page_size), f"{po._renew_before:g}") == (
        default("poweroffice-go", "page_size"), default("poweroffice-go", "renew_before"))
    assert (default("poweroffice-go", "base_url"), default("poweroffice-go", "rate_limit")) == (
        poweroffice.DEFAULT_BASE_URL, str(poweroffice.RATE_LIMIT))
    books = sy.books
    assert (str(sy.batch_size), f"{sy.batch_delay:g}", str(books.seed), ",".join(books.company_ids),
            str(books.postings), str(books.years)) == tuple(
        default("synthetic", o) for o in ("batch_size", "batch_delay", "seed", "companies", "postings", "years"))
