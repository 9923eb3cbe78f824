"""The group file, ``consolidation.yaml``, and the rates CSV it names: read as strictly as the registry.

A lenient reading gave wrong consolidated totals with exit code 0; every such
case is refused here with the file, the path in it and what to write instead.
Random files either load or raise the loader's own error, never anything else.
"""

from __future__ import annotations

import csv
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from osr_pipelines.registry import Company, Registry
from osr_pipelines.reports.groups import GroupConfig, GroupFileError, client_setup, consolidated_clients
from osr_pipelines.reports.rates import Rates, RatesFileError, rates_from_csv

from .conftest import synthetic_connection
from .group_books import RATES_CSV, insert_group
from .helpers import osr

CLIENT = "Hand Group"
REGISTRY = Registry(companies=[Company("g", "parent", "P", CLIENT), Company("g", "sub", "S", CLIENT),
                               Company("g", "elim", "E", CLIENT)])
VALID = {"currency": "NOK", "rates": "rates.csv",
         "eliminate": {"accounts": ["1560", "2460", "3050", "4050"], "company": "g.elim"}}


def group_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "consolidation.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, client: str = CLIENT) -> list[str]:
    with pytest.raises(GroupFileError) as error:
        client_setup(REGISTRY, client, path)
    assert str(error.value).startswith(f"invalid group file {path}:\n")
    return error.value.problems


# -- through osr report, on both warehouses ------------------------------------------------------


@pytest.fixture
def group_home(home: Path, warehouse_url: str) -> Path:
    """Two companies of client 'Hand Group' in the warehouse and the registry, with their rates file."""
    return _group_home(home, warehouse_url)


def _group_home(home: Path, warehouse_url: str, *, internal: bool = False) -> Path:
    insert_group(warehouse_url, internal=internal).dispose()
    (home / "registry.yaml").write_text(yaml.safe_dump({
        "customers": [{"name": "Acme", "groups": [{"name": "Acme", "clients": [{"name": CLIENT}]}]}],
        "connections": [synthetic_connection("g")],
        "companies": [{"connection": "g", "erp_id": e, "name": e, "client": CLIENT} for e in ("parent", "sub")]}))
    (home / "rates.csv").write_text(RATES_CSV)
    return home


def consolidate_with(home: Path, accounts: object):
    (home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {CLIENT: {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"accounts": accounts}}}}))
    return osr("report", "balance-sheet", "--client", CLIENT, "--period", "2024-01", "--out", str(home / "out"),
               ok=False)


def test_accounts_written_as_text_are_refused_by_osr_report(group_home: Path) -> None:
    result = consolidate_with(group_home, "1560")  # was read as the accounts '1', '5', '6', '0': nothing eliminated
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: invalid group file {group_home / 'consolidation.yaml'}:\n"
        f"  - clients.'{CLIENT}'.eliminate.accounts: must be a list of account numbers such as "
        "[\"1560\", \"2460\"], not the text '1560'\n")
    assert not (group_home / "out").exists()


def test_the_same_accounts_as_a_list_are_eliminated(group_home: Path) -> None:
    result = consolidate_with(group_home, ["1560", "2460", "3050", "4050"])
    assert result.exit_code == 0, result.output
    book = next((group_home / "out").glob("*.xlsx"))
    rows = {r[0].value: [c.value for c in r[2:6]] for r in load_workbook(book).worksheets[0].iter_rows(min_row=4)}
    assert rows[1560] == [900, 0, -900, 0]  # the receivable eliminated (Omløpsmidler 700, 2700, -900, 2500)


def test_osr_report_for_a_client_has_the_statements_signs_in_every_format(group_home: Path) -> None:
    """Revenue and liabilities positive by default, negative with --signs ledger, alike in CSV, JSON and Excel
    (totals as formulas); the sides agree, and Årsresultat is the balance sheet's Årets resultat."""
    (group_home / "consolidation.yaml").write_text(yaml.safe_dump({"clients": {CLIENT: {
        "currency": "NOK", "rates": "rates.csv", "eliminate": {"accounts": ["1560", "2460", "3050", "4050"]}}}}))
    for signs, sign in (("statement", 1), ("ledger", -1)):
        out = group_home / signs
        for kind in ("income-statement", "balance-sheet"):
            osr("report", kind, "--client", CLIENT, "--period", "2024-01", "--signs", signs, "--out", str(out),
                "--format", "csv", "--format", "json", "--format", "xlsx")
        # CSV: row kind, line, name, then parent, sub, eliminations, group
        sheet = {r[2]: [Decimal(v) for v in r[3:]] for r in csv.reader(
            next(out.glob("*balance-sheet-2024-01.csv")).read_text().splitlines()[1:]) if r[0] != "heading"}
        assert sheet["Leverandørgjeld"] == [0, sign * 900, sign * -900, 0], signs  # the sub's payable, eliminated
        assert sheet["Sum eiendeler"] == [700, 2700, -900, 2500], signs
        assert sheet["Sum egenkapital og gjeld"] == [sign * v for v in sheet["Sum eiendeler"]], signs
        table = json.loads(next(out.glob("*income-statement-2024-01.json")).read_text())["tables"][0]
        income = {r["cells"][1]: r["cells"][2:] for r in table["rows"] if r["row"] != "heading"}
        assert income["Salgsinntekt"][:4] == [sign * 950, sign * 2850, sign * -950, sign * 2850], signs
        assert income["Årsresultat"][:4] == [float(v) for v in sheet["Årets resultat"]] == \
            [sign * 700, sign * 1900, 0, sign * 2600], signs
        book = load_workbook(next(out.glob("*balance-sheet-2024-01.xlsx"))).worksheets[0]
        totals = {r[1].value: [c.value for c in r[2:6]] for r in book.iter_rows(min_row=4)}
        assert all(str(v).startswith("=") for name in ("Sum eiendeler", "Sum egenkapital og gjeld")
                   for v in totals[name]), totals


def test_an_account_no_statutory_line_covers_makes_osr_report_for_a_client_exit_1_naming_it(
        home: Path, warehouse_url: str) -> None:
    group_home = _group_home(home, warehouse_url, internal=True)
    sheet = consolidate_with(group_home, ["1560", "2460", "3050", "4050"])  # the balance sheet: no class 9 there
    assert sheet.exit_code == 0, sheet.output
    result = osr("report", "income-statement", "--client", CLIENT, "--period", "2024-01", "--out",
                 str(group_home / "out"), ok=False)
    assert result.exit_code == 1, result.output
    assert "2 konto(er) i sub har ingen linje i oppstillingen etter regnskapsloven §§ 6-1 og 6-2: 9100, 9200" \
        in result.output


def test_an_elimination_account_no_company_has_is_refused_by_osr_report(group_home: Path) -> None:
    result = consolidate_with(group_home, ["1560", "9999"])
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: {group_home / 'consolidation.yaml'}: clients.'{CLIENT}'.eliminate.accounts: elimination account "
        f"'9999' is in no chart of accounts and on no posting of client '{CLIENT}''s companies (g.parent, g.sub); "
        "correct the account numbers\n")
    assert not (group_home / "out").exists()


# -- what the review found, one by one -------------------------------------------------------------


def test_a_client_described_twice_is_refused(tmp_path: Path) -> None:
    path = group_file(tmp_path, f"clients:\n  {CLIENT}:\n    currency: NOK\n    rates: norges-bank\n"
                                f"  {CLIENT}:\n    currency: EUR\n    rates: norges-bank\n")
    assert problems(path) == [f"line 5: key '{CLIENT}' appears twice in one mapping (first on line 2); keep one"]


def test_a_field_given_twice_is_refused(tmp_path: Path) -> None:
    path = group_file(tmp_path, f"clients:\n  {CLIENT}:\n    currency: NOK\n    rates: norges-bank\n"
                                "    currency: EUR\n")
    assert problems(path) == ["line 5: key 'currency' appears twice in one mapping (first on line 3); keep one"]


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = group_file(tmp_path, "\n".join(lines) + "\nclients: {}\n")
    started = time.monotonic()
    assert problems(path) == ["line 1: YAML anchors and aliases (&name, *name) are not accepted; write each value "
                              "out in full"]
    with pytest.raises(GroupFileError):
        consolidated_clients(path)
    assert time.monotonic() - started < 1  # 8 levels took 12 s and 430 MB before


@pytest.mark.parametrize(("text", "expected"), [
    ("clients: 5\n", ["clients: must be a mapping of client names to their descriptions, not 5"]),
    ("- clients\n", ["top level: must be a mapping with 'clients', not a list"]),
    (f"clients:\n  {CLIENT}: [NOK]\n",
     [f"clients.'{CLIENT}': must be a mapping of currency, rates, rates_url, eliminate, equity, not a list"]),
    (f"clients:\n  {CLIENT}:\n    currency: NOK\n    rates: norges-bank\n    eliminate: [accounts]\n",
     [f"clients.'{CLIENT}'.eliminate: must be a mapping of counterparty, accounts and company, not a list"]),
    (f"clients:\n  {CLIENT}:\n    currency: NOK\n    rates: norges-bank\n    eliminate: {{accounts: 1560}}\n",
     [f"clients.'{CLIENT}'.eliminate.accounts: must be a list of account numbers such as [\"1560\", \"2460\"], "
      "not 1560"]),
    (f"clients:\n  {CLIENT}:\n    currency: 578\n    rates: 7\n    rates_url: ftp://x\n    colour: red\n"
     "    eliminate:\n      accounts: [\"1560\", 1.5, null, \"15 60\"]\n      counterparty: [1]\n      by: x\n"
     "  1001: {}\nextra: 1\n",
     ["top level: unknown field 'extra' (allowed: clients)",
      f"clients.'{CLIENT}': unknown field 'colour' (allowed: currency, eliminate, equity, rates, rates_url)",
      f"clients.'{CLIENT}'.currency: must be a currency code such as NOK, not 578",
      f"clients.'{CLIENT}'.rates: must be norges-bank or the name of a CSV file, not 7",
      f"clients.'{CLIENT}'.rates_url: must be an http(s) URL, not 'ftp://x'",
      f"clients.'{CLIENT}'.eliminate: unknown field 'by' (allowed: accounts, company, counterparty)",
      f"clients.'{CLIENT}'.eliminate.counterparty: a list is not one of customer, supplier, department, project, "
      "free_dimension_1, free_dimension_2, free_dimension_3",
      f"clients.'{CLIENT}'.eliminate.accounts[1]: must be an account number such as \"1560\", not 1.5",
      f"clients.'{CLIENT}'.eliminate.accounts[2]: must be an account number such as \"1560\", not empty (null)",
      f"clients.'{CLIENT}'.eliminate.accounts[3]: must be an account number such as \"1560\", not '15 60'",
      "clients: key 1001: a client's name is text; write it in quotes"]),
], ids=["clients-int", "top-list", "client-list", "eliminate-list", "accounts-int", "everything-at-once"])
def test_wrong_shapes_are_named_with_their_path(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(group_file(tmp_path, text)) == expected


def test_cross_checks_against_the_registry_name_the_path(tmp_path: Path) -> None:
    path = group_file(tmp_path, yaml.safe_dump({"clients": {CLIENT: {**VALID, "eliminate": {"company": "g.other"}},
                                                            "Nobody": {"currency": "NOK", "rates": "norges-bank"}}}))
    assert problems(path) == [f"clients.'{CLIENT}'.eliminate.company: 'g.other' is not a company of client "
                              f"'{CLIENT}' in the registry"]
    assert problems(path, "Nobody") == ["clients.'Nobody': no company of the registry belongs to this client"]
    assert problems(path, "Unknown") == ["clients.'Unknown': not described; add it under 'clients' with currency, "
                                         "rates and eliminate"]


def test_a_valid_file_gives_the_clients_setup(tmp_path: Path) -> None:
    path = group_file(tmp_path, yaml.safe_dump({"clients": {CLIENT: {**VALID, "currency": "nok"}}}))
    group = client_setup(REGISTRY, CLIENT, path)
    assert group.setup.currency == "NOK" and group.setup.companies == ("g.parent", "g.sub", "g.elim")
    assert group.setup.eliminations.accounts == ("1560", "2460", "3050", "4050")
    assert group.rates_source == str(tmp_path / "rates.csv")
    assert consolidated_clients(path) == [CLIENT]


def test_files_that_are_not_group_files_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert problems(folder) == ["is a folder, not a file"]
    with pytest.raises(GroupFileError, match="is a folder, not a file"):
        consolidated_clients(folder)
    assert problems(Path("/dev/zero")) == ["is not a regular file"]
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("clients:\n  Bjørn:\n".encode("latin-1"))
    assert problems(latin1) == ["is not UTF-8 text (byte 14 cannot be decoded)"]
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * 110_000)
    assert problems(huge) == ["is larger than 1024 KiB; this file is never that large, so it is probably not the "
                              "right file"]
    assert problems(tmp_path / "missing.yaml") == [f"file does not exist; describe client '{CLIENT}' there to "
                                                   "consolidate it (currency, rates, eliminate)"]


# -- the rates file ------------------------------------------------------------------------------


def rates_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    return path


def rates_error(path: Path) -> str:
    with pytest.raises(RatesFileError) as error:
        rates_from_csv(path)
    return str(error.value)


def test_a_file_that_is_not_a_rates_file_is_never_quoted(tmp_path: Path) -> None:
    secret = rates_file(tmp_path, "root:x:0:0:s3cret-hash:/root:/bin/bash\nline two s3cret\n")
    message = rates_error(secret)
    assert message == (f"rates file {secret}: line 1, column 1: must be 'currency' (the header is "
                       "currency,period,average,closing[,unit])")
    assert "s3cret" not in message and "bin/bash" not in message


def test_every_bad_line_is_named_by_line_and_column_without_its_content(tmp_path: Path) -> None:
    path = rates_file(tmp_path, "currency,period,average,closing\n"
                                "SEK,2024-01,0.95,s3cret\n"
                                "s3cret,2024-13,NaN,1e5\n"
                                "EUR,2024-01,11.4,11.5\n"
                                "\n"
                                "eur,2024-01,11.4,11.6\n"
                                "DKK,2024-01,s3cret\n")
    message = rates_error(path)
    assert message.splitlines() == [
        f"rates file {path}:",
        "  - line 2, column 'closing': must be a positive number such as 0.95 (NOK per 1 unit of the currency)",
        "  - line 3, column 'currency': must be a currency code such as SEK",
        "  - line 3, column 'period': must be a month written YYYY-MM, such as 2024-01",
        "  - line 3, column 'average': must be a positive number such as 0.95 (NOK per 1 unit of the currency)",
        "  - line 3, column 'closing': must be a positive number such as 0.95 (NOK per 1 unit of the currency)",
        "  - line 6: the rates of EUR for 2024-01 are also on line 4; keep one",
        "  - line 7: must have 4 columns (currency,period,average,closing), not 3",
    ]
    assert "s3cret" not in message


def test_files_that_are_not_rates_files_are_named(tmp_path: Path) -> None:
    assert rates_error(tmp_path) == f"rates file {tmp_path}: is a folder, not a file"
    assert rates_error(rates_file(tmp_path, "")) == (f"rates file {tmp_path / 'rates.csv'}: line 1: the header "
                                                     "currency,period,average,closing is missing: the file is empty")
    path = tmp_path / "rates.csv"
    path.write_bytes(b"currency,period,average,closing\nSEK,2024-01,0.95,0.9\xff\n")
    assert rates_error(path) == f"rates file {path}: is not UTF-8 text (byte 53 cannot be decoded)"


def test_a_spreadsheets_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    rates = rates_from_csv(rates_file(tmp_path, "\ufeff" + RATES_CSV))
    assert rates.monthly == {("SEK", 202401): (Decimal("0.95"), Decimal("0.90"))}


# -- random files: loaded, or refused with the loader's own error ----------------------------------

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats()
    | st.text(max_size=12) | st.sampled_from(["", "NOK", "nok", "1560", "norges-bank", "rates.csv", "\x00", "\u202e"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def near(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values, sometimes anything."""
    return st.one_of(valid, valid, values)


eliminate = near(st.fixed_dictionaries({}, optional={
    "counterparty": near(st.sampled_from(["free_dimension_1", "voucher_number"])),
    "accounts": near(st.lists(near(st.sampled_from(["1560", "2460", 1560, "15 60"])), max_size=3)
                     | st.sampled_from(["1560", "1500"])),
    "company": near(st.sampled_from(["g.elim", "g.parent", "g.other"])),
    "by": values,
}))
client = near(st.fixed_dictionaries({}, optional={
    "currency": near(st.sampled_from(["NOK", "EUR", "kroner", "nok"])),
    "rates": near(st.sampled_from(["norges-bank", "rates.csv", "/dev/null"])),
    "rates_url": near(st.sampled_from(["https://data.norges-bank.no/api", "ftp://x"])),
    "eliminate": eliminate,
    "colour": values,
}))
group_files = near(st.fixed_dictionaries({}, optional={
    "clients": near(st.dictionaries(st.sampled_from([CLIENT, CLIENT, "Other", "", 7, None, True]) | st.text(max_size=6),
                                    client, max_size=3)),
    "extra": values,
}))


def check(tmp_path: Path, text: str) -> None:
    path = group_file(tmp_path, text)
    try:
        names = consolidated_clients(path)
    except GroupFileError as error:
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        names = []
    assert all(isinstance(n, str) for n in names)
    try:
        group = client_setup(REGISTRY, CLIENT, path)
    except GroupFileError as error:
        event("refused")
        assert error.problems and all(isinstance(p, str) and p for p in error.problems)
        return
    event("valid")
    assert isinstance(group, GroupConfig) and len(group.setup.currency) == 3
    assert all(isinstance(a, str) for a in group.setup.eliminations.accounts)


@FUZZ
@given(data=group_files)
def test_random_group_files_load_or_are_refused(tmp_path: Path, data: object) -> None:
    check(tmp_path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!<>|'\"#? ,\n\t0123456789")), max_size=60))
def test_random_text_as_a_group_file_loads_or_is_refused(tmp_path: Path, text: str) -> None:
    check(tmp_path, text)


@FUZZ
@given(lines=st.lists(st.lists(near(st.sampled_from(["SEK", "sek", "2024-01", "0000-01", "2024-13", "0.95", "0",
                                                     "-1", "1e5", "NaN", "Infinity", " 0.9 ", ""]))
                                 .filter(lambda v: isinstance(v, str)), max_size=5), max_size=4),
       header=st.booleans(), quote=st.sampled_from(["", '"']))
def test_random_rates_files_load_or_are_refused(tmp_path: Path, lines: list[list[str]], header: bool,
                                                quote: str) -> None:
    text = ("currency,period,average,closing\n" if header else "") + "".join(
        ",".join(quote + cell + quote for cell in line) + "\n" for line in lines)
    try:
        rates = rates_from_csv(rates_file(tmp_path, text))
    except RatesFileError as error:
        event("refused")
        assert error.problems and str(tmp_path / "rates.csv") in str(error)
        return
    event("valid")
    assert isinstance(rates, Rates)
    assert all(a > 0 and c > 0 for a, c in rates.monthly.values())


def test_the_readme_example_is_a_valid_group_file(tmp_path: Path) -> None:
    """The README's consolidation.yaml, verbatim, with its equity section."""
    import re

    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    after = readme[readme.index("consolidated client in `$OSR_HOME/consolidation.yaml`:"):]
    path = group_file(tmp_path, re.search(r"```yaml\n(.*?)```", after, re.S).group(1))
    registry = Registry(companies=[Company("acme", "no", "Acme AS", "Acme Group"),
                                   Company("acme", "se", "Acme AB", "Acme Group"),
                                   Company("acme", "elim", "Eliminations", "Acme Group")])
    setup = client_setup(registry, "Acme Group", path).setup
    assert setup.equity["acme.se"].acquired == 201906 and setup.equity["acme.se"].rate == Decimal("1.05")
    assert setup.equity["acme.se"].transactions == {202303: Decimal("0.98")}
    assert setup.eliminations.company == "acme.elim"
