"""Reports follow the imports: an import run's end requests one report run over the same companies, and that
run materializes each company's reports on its own partition. All in process: the sensor is evaluated as the
daemon would, on the real finished run in the instance."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterRunStatus, EventRecordsFilter, build_run_status_sensor_context

from osr_pipelines.assets.imports import run_config
from osr_pipelines.definitions import build_definitions
from osr_pipelines.partitions import client_partitions, company_partitions
from osr_pipelines.resources import RegistryResource
from osr_pipelines.sensors.reports import REPORTS_TAG, reports_after_failed_imports, reports_after_imports
from osr_pipelines.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG, range_tags

from .conftest import synthetic_connection, write_registry

KEYS = ["demo.1001", "demo.1002", "demo.1003"]
REPORTS = ("trial_balance", "income_statement", "balance_sheet")


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OSR_HOME", str(tmp_path))
    registry = write_registry(tmp_path / "registry.yaml",
                              [synthetic_connection("demo", postings=300, companies="1001,1002,1003")],
                              [("demo", k.split(".")[1]) for k in KEYS])
    monkeypatch.setenv("OSR_REGISTRY", str(registry))
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    monkeypatch.setenv("OSR_WAREHOUSE_URL", url)
    return build_definitions(registry, url)


def materialized(instance, asset: str) -> dict[str, dict]:
    records = instance.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_MATERIALIZATION,
                                                            asset_key=AssetKey(asset)))
    return {r.event_log_entry.dagster_event.partition: r.event_log_entry.asset_materialization.metadata
            for r in records}


def test_a_batch_import_is_followed_by_one_report_run_over_its_companies(setup, tmp_path: Path) -> None:
    from dagster import instance_for_test

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(company_partitions.name, KEYS)
        batch = setup.resolve_job_def("nightly_import").execute_in_process(
            run_config=run_config("full"), instance=instance, tags=range_tags("demo", KEYS))
        assert batch.success
        run = instance.get_run_by_id(batch.run_id)
        event = next(e for e in instance.all_logs(run.run_id) if e.dagster_event
                     and e.dagster_event.event_type == DagsterEventType.RUN_SUCCESS).dagster_event
        instance.add_dynamic_partitions(client_partitions.name, ["Client demo.1002"])  # a consolidated client
        request, client = reports_after_imports(build_run_status_sensor_context(
            sensor_name="reports_after_imports", dagster_event=event, dagster_instance=instance, dagster_run=run,
            resources={"registry": RegistryResource(path=str(tmp_path / "registry.yaml"))}))
        assert (client.job_name, client.partition_key) == ("client_reports_job", "Client demo.1002")
        assert request.run_key == f"reports:{run.run_id}"
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("demo.1001", "demo.1003")
        assert "osr/connection" not in request.tags  # reading the warehouse is not held back by the ERP's queue
        reports = setup.resolve_job_def("company_reports_job").execute_in_process(instance=instance,
                                                                                  tags=request.tags)
        assert reports.success
        assert instance.get_run_by_id(reports.run_id).tags[REPORTS_TAG] == run.run_id
        for asset in REPORTS:
            found = materialized(instance, asset)
            assert sorted(found) == KEYS, asset
            assert all(Path(meta["html"].value).is_file() for meta in found.values())
        checks = {(e.dagster_event.event_specific_data.partition, e.dagster_event.event_specific_data.check_name)
                  for e in instance.all_logs(reports.run_id)
                  if e.dagster_event and e.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}
        assert {(key, "sums_to_zero") for key in KEYS} <= checks

        # a company of the range that cannot be reported fails the run, naming it, and costs the others nothing
        instance.add_dynamic_partitions(company_partitions.name, ["demo.1004"])
        again = setup.resolve_job_def("company_reports_job").execute_in_process(
            instance=instance, raise_on_error=False, tags={RANGE_START_TAG: "demo.1001", RANGE_END_TAG: "demo.1004"})
        assert not again.success
        failure = next(e for e in instance.all_logs(again.run_id, of_type=DagsterEventType.STEP_FAILURE))
        assert "reports of 1 of 4 companies failed (see the log): demo.1004" in str(failure.dagster_event)
        assert sum(1 for _ in instance.all_logs(again.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)) == 9


def test_a_single_company_run_and_a_failed_run_are_followed_too(setup, tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    from dagster import instance_for_test

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(company_partitions.name, KEYS)
        job = setup.resolve_job_def("nightly_import")
        one = job.execute_in_process(run_config=run_config("full"), instance=instance, partition_key="demo.1002")
        run = instance.get_run_by_id(one.run_id)
        event = next(e for e in instance.all_logs(run.run_id) if e.dagster_event
                     and e.dagster_event.event_type == DagsterEventType.RUN_SUCCESS).dagster_event
        [request] = reports_after_imports(build_run_status_sensor_context(
            sensor_name="reports_after_imports", dagster_event=event, dagster_instance=instance, dagster_run=run,
            resources={"registry": RegistryResource(path=str(registry))}))
        assert request.partition_key == "demo.1002" and PARTITION_TAG not in request.tags
        failed = instance.create_run_for_job(job, run_config=run_config("full"), tags=range_tags("demo", KEYS[:2]),
                                             status=DagsterRunStatus.FAILURE)
        [request] = reports_after_failed_imports(build_run_status_sensor_context(
            sensor_name="reports_after_failed_imports", dagster_event=event, dagster_instance=instance,
            dagster_run=failed, resources={"registry": RegistryResource(path=str(registry))}))
        assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == ("demo.1001", "demo.1002")
