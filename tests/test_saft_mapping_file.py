"""The SAF-T mapping file, ``saft-mapping.yaml``: read strictly, every wrong shape named with its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osr_pipelines.reports.saft import MappingFileError, company_overrides

COMPANY = "acme.1001"


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "saft-mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingFileError) as error:
        company_overrides(COMPANY, path)
    assert str(error.value).startswith(f"invalid SAF-T mapping file {path}:\n")
    return error.value.problems


@pytest.mark.parametrize(("text", "expected"), [
    ("- companies\n", ["top level: must be a mapping with 'companies', not a list"]),
    ("companies: [acme.1001]\n", ["companies: must be a mapping of company keys, not a list"]),
    (f"companies:\n  {COMPANY}: RF-1167\n",
     [f"companies.'{COMPANY}': must be a mapping of standard_account, RF-1167, RF-1175, not 'RF-1167'"]),
    (f"companies:\n  {COMPANY}:\n    RF-1167: [4000]\n    colour: red\n"
     "    standard_account: {4000: [1], x: '3000'}\n",
     [f"companies.'{COMPANY}'.RF-1167: must be a mapping of account to code, not a list",
      f"companies.'{COMPANY}': unknown field 'colour' (allowed: standard_account, RF-1167, RF-1175)",
      f"companies.'{COMPANY}'.standard_account.'4000': must map an account to a code, such as \"4000\": \"4005\", "
      "not a list"]),
    (f"companies:\n  {COMPANY}:\n    RF-1167: {{'4000': '4005'}}\n    RF-1167: {{'4000': '4010'}}\n",
     ["line 4: key 'RF-1167' appears twice in one mapping (first on line 3); keep one"]),
    ("a: &a [1, 2]\nb: *a\n", ["line 1: YAML anchors and aliases (&name, *name) are not accepted; write each value "
                               "out in full"]),
], ids=["top-list", "companies-list", "entry-text", "every-problem", "repeated-level", "alias"])
def test_wrong_shapes_are_named_with_their_path(tmp_path: Path, text: str, expected: list[str]) -> None:
    assert problems(tmp_path, text) == expected


def test_overrides_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "saft-mapping.yaml"
    path.write_text(f"companies:\n  {COMPANY}:\n    RF-1167: {{4000: 4005, '2050': '2059'}}\n  other: 5\n")
    assert company_overrides(COMPANY, path) == {"standard_account": {}, "RF-1167": {"4000": "4005", "2050": "2059"},
                                                "RF-1175": {}}


values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
                      | st.sampled_from(["RF-1167", "4000", COMPANY, "companies"]),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["companies", COMPANY, "RF-1167", "4000", "x"]), inner,
                                        max_size=3), max_leaves=10)


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=values)
def test_random_mapping_files_load_or_are_refused(tmp_path: Path, data: object) -> None:
    path = tmp_path / "saft-mapping.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        overrides = company_overrides(COMPANY, path)
    except MappingFileError as error:
        assert error.problems
        return
    assert all(isinstance(k, str) and isinstance(v, str) for level in overrides.values() for k, v in level.items())
