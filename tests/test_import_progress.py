"""What `osr import` shows while it runs and when each company is done: its own progress and its own duration."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from dagster import execute_job

from osr_pipelines.assets.imports import run_config
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.instance import get_instance
from osr_pipelines.runner import CompanyProgress, RunReport, ensure_partitions, import_job, run_imports
from osr_pipelines.schedules import Batch, batch_tags
from tests.conftest import synthetic_connection, write_registry
from tests.helpers import osr

BIG, SMALL = "syn.2001", "syn.2002"


@pytest.fixture
def big_and_small(home: Path) -> Path:
    """Company 2001 has 15,000 postings served in pages of 100, 30 ms each (4.5 s of paging); 2002 has a page or
    two: its ERP deleted every voucher but those of its last five days."""
    conn = synthetic_connection("syn", state=home / "books.json", companies="2001,2002", postings="15000",
                                years="1", batch_size="100", batch_delay="0.03")
    books = books_from_options(conn["options"])
    days, day = {}, books.start
    while day <= books.end - timedelta(days=5):
        days[day.isoformat()] = {"revision": 0, "deleted": list(range(books.vouchers_per_day))}
        day += timedelta(days=1)
    (home / "books.json").write_text(json.dumps({"2002": days}))
    write_registry(home / "registry.yaml", [conn], [("syn", "2001"), ("syn", "2002")])
    return home


def test_piped_output_is_a_line_per_company_with_its_own_duration(big_and_small: Path) -> None:
    out = osr("import", "full", "--all").stdout  # not a terminal: no live line
    assert "\r" not in out
    lines = [line for line in out.splitlines() if re.match(r"  \[\d/2\] ", line)]
    assert len(lines) == 2, out
    seconds = {}
    for line in lines:
        found = re.fullmatch(r"  \[(\d)/2\] (syn\.\d+) +SUCCESS +([\d,]+) postings +([\d.]+)s  run [0-9a-f-]+",
                             line)
        assert found, line
        seconds[found.group(2)] = float(found.group(4))
    assert [line.split()[1] for line in lines] == [BIG, SMALL]
    assert seconds[BIG] - seconds[SMALL] >= 3.0, seconds


def test_a_batch_reports_each_company_s_own_duration(big_and_small: Path, warehouse_url: str) -> None:
    instance = get_instance()
    ensure_partitions(instance, [BIG, SMALL])
    with execute_job(import_job("full"), instance=instance, run_config=run_config("full", None),
                     tags=batch_tags(Batch("syn", (BIG, SMALL))), raise_on_error=False) as result:
        assert result.success
        run_id = result.run_id
    report = RunReport.read(instance, run_id)
    stats = instance.get_run_stats(run_id)
    run_seconds = stats.end_time - stats.start_time
    big, small = report.outcome(instance, BIG), report.outcome(instance, SMALL)
    assert big.status == small.status == "SUCCESS"
    assert big.seconds - small.seconds >= 3.0, (big, small, run_seconds)
    assert big.seconds + small.seconds <= run_seconds
    assert big.rows > 50 * small.rows


def test_progress_reports_rows_as_they_arrive(big_and_small: Path) -> None:
    seen: list[CompanyProgress] = []
    instance = get_instance()
    [outcome] = run_imports(instance, "full", [BIG], on_update=lambda p: seen.append(CompanyProgress(**vars(p))))
    assert outcome.status == "SUCCESS"
    assert {p.company for p in seen} == {BIG}
    states = [p.state for p in seen]
    assert states.index("dimensions") < states.index("postings") < states.index("checks"), states
    loading = [p for p in seen if p.state == "postings"]
    assert all(0 < p.rows < outcome.rows for p in loading)
    assert [p.rows for p in loading] == sorted(p.rows for p in loading)
    if loading[-1].pages is not None:  # where the import step reports pages read
        assert 0 < loading[-1].pages <= loading[-1].rows / 100
