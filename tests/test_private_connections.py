"""A private connection's runs and materializations carry its owner; a public connection's carry none."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance
from dagster._core.test_utils import instance_for_test

from osr_pipelines.runner import run_imports
from osr_pipelines.tags import OWNER_TAG, partition_tags, range_tags
from tests.conftest import write_registry


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_private_connections_runs_and_materializations_carry_its_owner(home: Path) -> None:
    options = {"companies": "1001", "postings": "200", "years": "1"}
    registry = write_registry(home / "registry.yaml", [
        {"name": "own", "type": "synthetic", "parent": "Acme", "private": True, "owner": "nils",
         "options": dict(options)},
        {"name": "open", "type": "synthetic", "parent": "Acme", "options": dict(options)},
    ], [("own", "1001"), ("open", "1001")])
    text = registry.read_text()
    registry.write_text(text + "users:\n- {name: nils, parent: Acme}\n")

    assert partition_tags("own.1001")[OWNER_TAG] == "nils"
    assert range_tags("own", ["own.1001"])[OWNER_TAG] == "nils"
    assert OWNER_TAG not in partition_tags("open.1001")
    instance: DagsterInstance
    with instance_for_test() as instance:
        own, public = run_imports(instance, "full", ["own.1001", "open.1001"])
        assert (own.status, public.status) == ("SUCCESS", "SUCCESS"), (own.error, public.error)
        assert instance.get_run_by_id(own.run_id).tags[OWNER_TAG] == "nils"
        assert OWNER_TAG not in instance.get_run_by_id(public.run_id).tags
        for outcome, owner in ((own, "nils"), (public, None)):
            found = {e.asset_materialization.asset_key: e.asset_materialization.metadata
                     for e in instance.all_logs(outcome.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)}
            assert AssetKey("gl_postings") in found and len(found) > 1
            owners = {key: meta["owner"].value if "owner" in meta else None for key, meta in found.items()}
            assert set(owners.values()) == {owner}
