"""Contracting Works: its queries against the published SDL, the token flow, paging, the empty company name,
rejected credentials, faults, and an import of its project economics through Dagster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from dagster._core.test_utils import instance_for_test
from graphql import GraphQLNonNull, build_schema, get_named_type, parse, validate
from sqlalchemy import select

from osr_pipelines.connectors.base import ConnectorError, CredentialsRejected, Window
from osr_pipelines.connectors.contractingworks import queries
from osr_pipelines.connectors.contractingworks.client import ContractingWorksConnector
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_pipelines.runner import run_imports
from osr_pipelines.warehouse.loader import Warehouse
from osr_pipelines.warehouse.schema import budgets, gl_postings, import_log, project_transactions
from osr_sandbox.contractingworks import API_KEY, NAMELESS, SUBJECT, TENANT, Tenant, contractingworks_app, generated
from osr_sandbox.contractingworks_schema import SDL
from osr_sandbox.server import running
from tests.conftest import write_registry
from tests.helpers import osr

PUBLISHED = Path(__file__).resolve().parents[3] / "shared" / "specs" / "contracting-works" / "schema.graphql"
CREDENTIALS = {"subject_id": SUBJECT, "api_key": API_KEY}
#: a company's id is its tenant and its companyInfoId
ERP_ID = f"{TENANT}-1"
KEY = f"cw.{ERP_ID}"
BOOKS = SyntheticBooks(company_ids=("1",), postings=10, years=1, end=date(2026, 11, 30))


@pytest.fixture(scope="module")
def published():
    return build_schema(PUBLISHED.read_text())


def test_the_sandbox_schema_is_the_published_sdl_field_for_field(published) -> None:
    subset = build_schema(SDL)
    for name, kind in subset.type_map.items():
        if name.startswith("__") or not hasattr(kind, "fields"):
            continue
        for field, spec in kind.fields.items():
            real = published.type_map[name].fields[field]
            assert str(spec.type) == str(real.type), (name, field)
            assert {a: str(t.type) for a, t in getattr(spec, "args", {}).items()} == {
                a: str(t.type) for a, t in getattr(real, "args", {}).items() if a != "externalSystemId"}, (name, field)


@pytest.mark.parametrize("query", [queries.COMPANIES, queries.INVOICE_LINES, queries.SUPPLIER_INVOICE_LINES,
                                   queries.BUDGET_LINE_PERIODS, *(q for _, q in queries.DIMENSIONS.values())])
def test_every_query_is_valid_against_the_published_sdl(published, query: str) -> None:
    assert validate(published, parse(query)) == []


def test_a_set_type_is_totalcount_and_items(published) -> None:
    """What paging relies on: every root set answers ``totalCount`` and a list of ``items``."""
    for field in published.query_type.fields.values():
        kind = get_named_type(field.type)
        if kind.name.endswith("Set"):
            assert set(kind.fields) >= {"totalCount", "items"}
            assert not isinstance(kind.fields["items"].type, GraphQLNonNull)


@pytest.fixture
def sandbox() -> Iterator[tuple[str, Tenant]]:
    data = generated(BOOKS, lines=23)
    draft = data.sets["invoiceLines"][0]  # a line of an invoice not yet invoiced: no date, not revenue yet
    data.sets["invoiceLines"].append({**draft, "invoiceLineId": 999, "invoice": {**draft["invoice"],
                                                                                 "invoiceDate": None}})
    nameless = Tenant({**data.sets, "companyInfos": [{"companyInfoId": 1, "companyName": "  "}]})
    app = contractingworks_app({TENANT: data, NAMELESS: nameless}, token_lifetime=3600)
    with running(app) as base:
        yield base, data


def _connector(base: str, tenant: str = TENANT, *, page_size: int = 5, clock=None, credentials=None,
               **kwargs) -> ContractingWorksConnector:
    options = {"auth_url": base, "graphql_url": base, "tenant": tenant, "page_size": str(page_size)}
    return ContractingWorksConnector("cw", options, credentials or CREDENTIALS,
                                     credential_env={"subject_id": "CW_SUBJECT", "api_key": "CW_KEY"},
                                     sleep=lambda _: None, **({"clock": clock} if clock else {}), **kwargs)


def _expected(data: Tenant, window: Window | None = None) -> list[tuple]:
    """The sandbox's lines as project transactions, mapped here from the API's own field names."""
    rows = []
    for line in data.sets["invoiceLines"]:
        inv = line["invoice"]
        if inv["invoiceDate"] is None:
            continue
        rows.append((f"invoice-line:{line['invoiceLineId']}", inv["invoiceDate"], str(inv["projectId"]),
                     str(line["income_ProjectAccount"]["accountNumber"]),
                     -Decimal(str(line["calc_InvoiceAmount"])).quantize(Decimal("0.01"))))
    for line in data.sets["supplierInvoiceLines"]:
        inv = line["supplierInvoice"]
        rows.append((f"supplier-invoice-line:{line['supplierInvoiceLineId']}", inv["invoiceDate"],
                     str(line["assignment"]["projectId"]), line["projectAccountNumberTxt"],
                     Decimal(str(line["lineAmount"])).quantize(Decimal("0.01"))))
    return sorted(r for r in rows if window is None or window.start.isoformat() <= r[1] < window.end.isoformat())


def _read(connector: ContractingWorksConnector, window: Window | None = None, since=None) -> list[tuple]:
    return sorted((r[0], r[3], r[5], r[6], Decimal(str(r[10])).quantize(Decimal("0.01")))
                  for b in connector.stream_project_transactions(ERP_ID, window, since) for r in b)


def test_pages_with_take_and_skip_and_counts_with_totalcount(sandbox) -> None:
    base, data = sandbox
    connector = _connector(base, page_size=5)
    assert _read(connector) == _expected(data)
    assert connector.project_count().rows == 46  # the undated line is asked away: the count is what is read
    window = Window(date(2026, 1, 1), date(2026, 4, 1))
    assert _read(connector, window) == _expected(data, window)
    assert connector.project_count().rows == len(_expected(data, window))


def test_the_nightly_reads_lines_changed_since_by_sys_updateddateutc(sandbox) -> None:
    base, data = sandbox
    changed = data.sets["invoiceLines"][4]
    changed["calc_InvoiceAmount"], changed["sys_UpdatedDateUTC"] = 1234.5, "2026-11-29T08:00:00Z"
    rows = _read(_connector(base), since=datetime(2026, 11, 29, tzinfo=UTC))
    assert rows == [(f"invoice-line:{changed['invoiceLineId']}", changed["invoice"]["invoiceDate"],
                     str(changed["invoice"]["projectId"]), str(changed["income_ProjectAccount"]["accountNumber"]),
                     Decimal("-1234.50"))]


def test_the_token_is_renewed_before_it_ends() -> None:
    app = contractingworks_app({TENANT: generated(BOOKS, lines=2)}, token_lifetime=3600)
    now = [0.0]
    with running(app) as base:
        connector = _connector(base, clock=lambda: now[0])
        connector.list_companies()
        now[0] = 3600 - 601  # the token (valid 3,600 s) has more than ten minutes left: kept
        connector.list_companies()
        assert app.state.issued == [TENANT]
        now[0] = 3600 - 599  # less than ten minutes left: renewed before the request
        connector.list_companies()
        assert app.state.issued == [TENANT, TENANT]
        app.state.tokens.clear()  # refused all the same (401): renewed once more, and the read goes on
        connector.list_companies()
        assert app.state.issued == [TENANT] * 3


def test_a_company_of_another_tenant_is_refused(sandbox) -> None:
    base, _ = sandbox
    with pytest.raises(ConnectorError) as caught:
        list(_connector(base).stream_budgets("10356-noname-1"))
    assert "company '10356-noname-1' is not one of tenant '10355-vismaosr'" in str(caught.value)


def test_an_empty_company_name_says_where_to_fill_it_in(sandbox) -> None:
    base, _ = sandbox
    with pytest.raises(Exception) as caught:
        _connector(base, NAMELESS).list_companies()
    assert str(caught.value) == (
        "connection 'cw', ERP company '10356-noname-1', field 'companyName': tenant '10356-noname': the company "
        "name is empty, so no company can be chosen: fill in the company name under company details in Contracting "
        "Works (the company's own settings, as an administrator), then list the companies again")


def test_rejected_credentials_name_their_variables(sandbox) -> None:
    base, _ = sandbox
    with pytest.raises(CredentialsRejected) as caught:
        _connector(base, credentials={**CREDENTIALS, "api_key": "wrong"}).list_companies()
    assert str(caught.value) == (
        "connection 'cw', field 'api_key': Devinco Connect rejected the subject id (credential 'subject_id', env "
        "CW_SUBJECT) or the API key (credential 'api_key', env CW_KEY) for tenant '10355-vismaosr' (HTTP 401); "
        "both come from Contracting Works support")
    assert "wrong" not in str(caught.value)


def test_faults_lose_and_double_nothing() -> None:
    data = generated(BOOKS, lines=40)
    app = contractingworks_app({TENANT: data}, "500=0.1,429=0.05,drop=0.05,malformed=0.05")
    with running(app) as base:
        connector = _connector(base, page_size=7)
        assert _read(connector) == _expected(data)
        assert sum(len(b) for b in connector.stream_budgets(ERP_ID)) == len(data.sets["budgetLinePeriods"])
    assert sum(app.counts.values()) > 0


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_an_import_loads_project_transactions_budgets_and_dimensions(home: Path, warehouse_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    data = generated(BOOKS, lines=23)
    with running(contractingworks_app({TENANT: data, NAMELESS: data})) as base:
        monkeypatch.setenv("CW_SUBJECT", SUBJECT)
        monkeypatch.setenv("CW_KEY", API_KEY)
        conn = {"name": "cw", "type": "contracting-works", "parent": "Acme",
                "options": {"auth_url": base, "graphql_url": base, "tenant": TENANT},
                "credentials": {"subject_id": "CW_SUBJECT", "api_key": "CW_KEY"}}
        write_registry(home / "registry.yaml", [conn], [("cw", ERP_ID)])
        assert f"{ERP_ID} Vismaosr Bygg AS" in osr("company", "available", "cw").output
        with instance_for_test() as instance:
            [full] = run_imports(instance, "full", [KEY])
            assert full.status == "SUCCESS", full.error
            changed = data.sets["supplierInvoiceLines"][0]
            changed["lineAmount"], changed["sys_UpdatedDateUTC"] = 99.95, "2999-01-01T00:00:00Z"
            [nightly] = run_imports(instance, "nightly", [KEY])
            assert nightly.status == "SUCCESS", nightly.error
    wh = Warehouse(warehouse_url)
    t = project_transactions.c
    with wh.engine.connect() as c:
        rows = sorted((r.transaction_id, r.transaction_date.isoformat(), r.project, r.account, r.amount)
                      for r in c.execute(select(project_transactions).where(t.company == KEY)))
        budget_rows = c.execute(select(budgets).where(budgets.c.company == KEY)).all()
        postings = c.execute(select(gl_postings).where(gl_postings.c.company == KEY)).all()
        modes = [r.mode for r in c.execute(select(import_log).where(import_log.c.dataset == "project_transactions")
                                           .order_by(import_log.c.id))]
    assert rows == _expected(data)
    assert ("supplier-invoice-line:1", changed["supplierInvoice"]["invoiceDate"], str(
        changed["assignment"]["projectId"]), changed["projectAccountNumberTxt"], Decimal("99.95")) in rows
    assert len(budget_rows) == len(data.sets["budgetLinePeriods"]) and postings == []
    assert all((r.amount < 0) == r.account.startswith("3") for r in budget_rows)  # signed as a ledger signs
    assert modes == ["full", "changed"]
