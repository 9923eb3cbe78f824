"""The synthetic source's own count, which demos and tests check imports against."""

from __future__ import annotations

from datetime import date

import pytest

from osr_pipelines.connectors.base import SourceUnavailable, Window
from osr_pipelines.connectors.synthetic import SyntheticConnector
from tests.connectors.conftest import flat

WINDOW = Window(date(2024, 1, 1), date(2025, 1, 1))
OPTIONS = {"companies": "1001", "postings": "3000", "years": "2", "end": "2024-12-31", "batch_size": "500"}


def test_the_source_count_is_the_rows_of_the_last_completed_read():
    connector = SyntheticConnector("syn", OPTIONS, {})
    rows = flat(connector.stream_postings("1001", WINDOW))
    assert len(rows) > 500 and connector.source_count() == (len(rows), "generated rows", True,
                                                            "the synthetic books count the rows they generate")
    failing = SyntheticConnector("syn", {**OPTIONS, "fail_after_rows": "600"}, {})
    with pytest.raises(SourceUnavailable):
        flat(failing.stream_postings("1001", WINDOW))
    assert failing.source_count().rows is None and "did not complete" in failing.source_count().note
