"""Charts are drawn on reused figures: a chart must come out as it would on a new figure, whatever came before."""

from decimal import Decimal

import pytest

from osr_pipelines.reports import chart
from osr_pipelines.reports.language import MONTHS

BIG = {2025: [Decimal(i * 1_000_000) for i in range(12)], 2026: [Decimal(-i * 70_000) for i in range(11)] + [None]}
SMALL = {2025: [Decimal(i) / 7 for i in range(12)], 2026: [Decimal(0)] * 12}


def fresh(monthly: dict[int, list[Decimal | None]], lang: str = "nb") -> str:
    chart._BLANKS.clear()
    return chart.monthly_result_svg(monthly, "NOK", lang)


def test_a_chart_on_a_reused_figure_is_the_chart_on_a_new_one() -> None:
    big, small, small_en = fresh(BIG), fresh(SMALL), fresh(SMALL, "en")
    assert big != small != small_en
    # other figures, other values, other languages, another chart on other categories in between
    chart.monthly_result_svg(BIG, "SEK", "en")
    chart.bar_chart("consolidated-result", "Result", ["A AS", "B AS", "Eliminations"],
                    [chart.Series("result", "Result", [Decimal(5), Decimal(-3), None])], "NOK")
    assert chart.monthly_result_svg(SMALL, "NOK") == small
    assert chart.monthly_result_svg(BIG, "NOK") == big
    assert chart.monthly_result_svg(SMALL, "NOK", "en") == small_en
    assert 'id="monthly-result-this-year-10"' in big


def test_a_chart_that_fails_leaves_no_trace_on_the_next() -> None:
    small = fresh(SMALL)
    with pytest.raises(ValueError):
        chart.bar_chart("monthly-result", "broken", list(MONTHS["nb"]),
                        [chart.Series("last-year", "2025", SMALL[2025]),
                         chart.Series("this-year", "2026", ["not a number"] * 12)], "NOK")  # type: ignore[list-item]
    assert chart.monthly_result_svg(SMALL, "NOK") == small
