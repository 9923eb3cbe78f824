"""Nightly and year-to-date schedules: batches of one connection's import-mode companies, window pinned."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import yaml
from dagster import DagsterInstance, build_schedule_context

from osr_pipelines.assets.windows import OSLO
from osr_pipelines.definitions import build_definitions
from osr_pipelines.instance import PYTHON_LOGS, RUN_MONITORING, RUN_QUEUE
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import load_registry
from osr_pipelines.resources import RegistryResource
from osr_pipelines.schedules import Batch, plan_batches
from tests.conftest import synthetic_connection, write_registry


def evaluate(instance: DagsterInstance, registry: Path, name: str, when: datetime) -> list:
    defs = build_definitions(registry, "sqlite://")
    context = build_schedule_context(instance=instance, instance_ref=instance.get_ref(), scheduled_execution_time=when,
                                     repository_def=defs.get_repository_def(),
                                     resources={"registry": RegistryResource(path=str(registry))})
    return list(defs.resolve_schedule_def(name).evaluate_tick(context).run_requests)


def registry_with_modes(tmp_path: Path) -> Path:
    conns = [synthetic_connection("books", companies="1,2"), {**synthetic_connection("weekly"), "nightly_days": 10},
             synthetic_connection("live", mode="direct", companies="9")]
    path = write_registry(tmp_path / "r.yaml", conns,
                          [("books", "1"), ("books", "2"), ("weekly", "1"), ("live", "9"), ("old", "3")])
    data = yaml.safe_load(path.read_text())
    data["companies"][-1]["detached"] = True  # its import connection was deleted
    path.write_text(yaml.safe_dump(data))
    return path


def ranges(requests: list) -> dict[tuple[str, str], dict]:
    """(first, last) company of each run -> its import config; a batch of one is a single-partition run."""
    return {(r.partition_key, r.partition_key) if r.partition_key else
            (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]):
            r.run_config["ops"]["import_company"]["config"] for r in requests}


def test_nightly_covers_import_companies_in_batches_with_their_window(tmp_path: Path, pg_instance) -> None:
    registry = registry_with_modes(tmp_path)
    pg_instance.add_dynamic_partitions(company_partitions.name, ["books.1", "books.2", "weekly.1", "live.9", "old.3"])
    requests = evaluate(pg_instance, registry, "nightly_imports", datetime(2026, 3, 10, 2, 0, tzinfo=OSLO))

    windows = ranges(requests)
    # one run per connection's consecutive companies; no direct, no detached company
    assert set(windows) == {("books.1", "books.2"), ("weekly.1", "weekly.1")}
    assert windows[("books.1", "books.2")] == {"mode": "nightly", "start": "2026-03-06", "end": "2026-03-11"}
    assert windows[("weekly.1", "weekly.1")] == {"mode": "nightly", "start": "2026-03-01", "end": "2026-03-11"}
    assert [r.tags["osr/connection"] for r in requests] == ["books", "weekly"]
    # a batch of one is a single-partition run, which the queue's per-company limit covers
    [single] = [r for r in requests if r.partition_key]
    assert single.partition_key == "weekly.1" and single.tags["dagster/partition"] == "weekly.1"
    assert len({r.run_key for r in requests}) == 2


def test_company_without_partition_waits_for_the_sensor(tmp_path: Path, pg_instance) -> None:
    registry = registry_with_modes(tmp_path)
    pg_instance.add_dynamic_partitions(company_partitions.name, ["books.1"])
    requests = evaluate(pg_instance, registry, "nightly_imports", datetime(2026, 3, 10, 2, 0, tzinfo=OSLO))
    assert list(ranges(requests)) == [("books.1", "books.1")]


def test_weekly_ytd_window(tmp_path: Path, pg_instance) -> None:
    registry = registry_with_modes(tmp_path)
    pg_instance.add_dynamic_partitions(company_partitions.name, ["books.1"])
    [request] = evaluate(pg_instance, registry, "weekly_ytd_imports", datetime(2026, 3, 8, 4, 0, tzinfo=OSLO))
    assert request.run_config["ops"]["import_company"]["config"] == {
        "mode": "ytd", "start": "2026-01-01", "end": "2026-03-09"}


def test_batches_are_ranges_of_one_connection_cut_to_its_run_limit(tmp_path: Path) -> None:
    a = [str(i) for i in range(1, 61)]
    conns = [synthetic_connection("a", companies=",".join(a)), synthetic_connection("b", companies="1,2,3"),
             synthetic_connection("live", mode="direct", companies="9")]
    companies = [("a", i) for i in a] + [("b", "1"), ("b", "2"), ("b", "3"), ("live", "9")]
    registry = load_registry(write_registry(tmp_path / "r.yaml", conns, companies))
    # partitions in the order they were added: b.1 and a direct company interrupt a's range
    order = [f"a.{i}" for i in range(1, 21)] + ["b.1"] + [f"a.{i}" for i in range(21, 41)] + ["live.9"] + \
        [f"a.{i}" for i in range(41, 61)] + ["b.2", "b.3"]
    batches = [(b.connection, b.keys[0], b.keys[-1], len(b.keys)) for b in plan_batches(order, registry)]
    # a's 60 companies: 4 runs' worth, ceil(60/4) = 15 each, never across another connection or a direct
    # partition; b's 3 stay together (a run carries at least 10 before it is split for parallel readers)
    assert batches == [("a", "a.1", "a.15", 15), ("a", "a.16", "a.20", 5), ("b", "b.1", "b.1", 1),
                       ("a", "a.21", "a.35", 15), ("a", "a.36", "a.40", 5), ("a", "a.41", "a.55", 15),
                       ("a", "a.56", "a.60", 5), ("b", "b.2", "b.3", 2)]
    assert plan_batches(order, registry, only={"a.3", "a.4", "a.6"}) == [Batch("a", ("a.3", "a.4")),
                                                                        Batch("a", ("a.6",))]


def test_batches_stop_at_the_largest_size() -> None:
    from osr_pipelines.schedules import MAX_BATCH

    class Reg:
        def importable_companies(self) -> list:
            return [type("C", (), {"key": f"x.{i}", "connection": "x"}) for i in range(1000)]

    sizes = [len(b.keys) for b in plan_batches([f"x.{i}" for i in range(1000)], Reg())]  # type: ignore[arg-type]
    assert sizes == [MAX_BATCH] * 10


def test_schedule_times() -> None:
    from osr_pipelines.schedules import nightly_imports as nightly
    from osr_pipelines.schedules import weekly_ytd_imports as weekly

    assert (nightly.cron_schedule, nightly.execution_timezone) == ("0 2 * * *", "Europe/Oslo")
    assert (weekly.cron_schedule, weekly.execution_timezone) == ("0 4 * * 0", "Europe/Oslo")


def test_production_instance_config_carries_the_run_queue() -> None:
    config = yaml.safe_load((Path(__file__).parents[1] / "deploy" / "dagster.yaml").read_text())
    assert config["run_coordinator"] == RUN_QUEUE
    assert config["run_monitoring"] == RUN_MONITORING
    assert config["python_logs"] == PYTHON_LOGS
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_dagster_validates_the_definitions(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    registry = write_registry(tmp_path / "r.yaml", [synthetic_connection()], [("demo", "1001")])
    env = {**os.environ, "OSR_REGISTRY": str(registry), "OSR_HOME": str(tmp_path),
           "DAGSTER_HOME": str(tmp_path), "OSR_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    result = subprocess.run([Path(sys.executable).parent / "dagster", "definitions", "validate",
                             "-m", "osr_pipelines.definitions"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
