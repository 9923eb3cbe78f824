"""Bar charts as SVG drawn by matplotlib, inlined in the HTML page so it stays one self-contained file.

matplotlib is maintained, draws axes, ticks, gridlines, titles and value
labels properly, and writes SVG without a display: the figure is made on its
SVG canvas directly (no pyplot, no global backend). It is imported when a
chart is drawn, not when the CLI starts. Text stays text in the SVG (not
paths), so a reader can select it, a screen reader can read it and a test can
find a bar's value; every bar's group carries an id naming chart, series and
category.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from osr_pipelines.reports.language import MONTHS, text
from osr_pipelines.reports.numbers import THOUSANDS

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.container import Container
    from matplotlib.figure import Figure

PALETTE = ("#9aa5b5", "#1f5fa8", "#c0392b", "#2e8b57")


@dataclass(frozen=True)
class Series:
    #: short name, part of each bar's id (``<chart>-<key>-<category index>``)
    key: str
    name: str
    values: list[Decimal | None]


def _whole(value: float, lang: str) -> str:
    """An axis tick: whole units, grouped as the language writes them."""
    shown = f"{round(value) or 0:,.0f}"
    return shown if lang == "en" else shown.replace(",", THOUSANDS)


#: blank figures kept for reuse, by (width, categories); the monthly chart's categories are always the same
_BLANKS: OrderedDict[tuple[float, tuple[str, ...]], tuple[Figure, Axes]] = OrderedDict()
KEPT_FIGURES = 8
_DRAWING = threading.Lock()
#: text.parse_math off: company names are ERP text, and "$..$" in one would be typeset as TeX, or fail
_RC = {"svg.fonttype": "none", "font.size": 8.5, "font.family": "sans-serif", "text.parse_math": False}


def _blank(width: float, categories: tuple[str, ...]) -> tuple[Figure, Axes]:
    """A figure with its axes and everything of them that no series changes; what a chart adds to it is removed
    again after drawing (see :func:`bar_chart`), so the figure is as if new for the next chart.

    Making a figure, its axes and their tick labels costs about half of a chart (a report has one per company),
    and none of it depends on the figures shown.
    """
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    key = (width, categories)
    if key in _BLANKS:
        _BLANKS.move_to_end(key)
        return _BLANKS[key]
    figure = Figure(figsize=(width, 3.6))
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    axes.set_xticks(range(len(categories)), categories)
    axes.yaxis.grid(True, color="#ddd", zorder=0)
    axes.set_axisbelow(True)
    axes.margins(y=0.18)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.subplots_adjust(left=0.09, right=0.99, top=0.88, bottom=0.09)
    _BLANKS[key] = figure, axes
    if len(_BLANKS) > KEPT_FIGURES:
        _BLANKS.popitem(last=False)
    return figure, axes


def bar_chart(chart_id: str, title: str, categories: list[str], series: list[Series], currency: str,
              lang: str = "nb", width: float = 9.0) -> str:
    """Grouped bars, one group per category, one bar per series, each labelled with its value; an inline ``<svg>``."""
    # matplotlib's notices about its own caches (a font cache being built, a temporary config folder) say
    # nothing about a report, and a warning in a run's log should
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    key = (width, tuple(categories))
    with _DRAWING, matplotlib.rc_context({**_RC, "svg.hashsalt": chart_id}):
        figure, axes = _blank(*key)
        try:
            out, added = _draw(figure, axes, chart_id, title, categories, series, currency, lang)
        except BaseException:
            _BLANKS.pop(key, None)  # a figure left half drawn is no longer blank: the next chart makes a new one
            raise
        for artist in added:
            artist.remove()
        axes.relim()  # the data limits as a new figure's: none
    svg = out.getvalue()
    svg = svg[svg.index("<svg"):]  # no XML declaration or doctype inside an HTML page
    return re.sub(r"<svg ", f'<svg id="{chart_id}" role="img" aria-label="{_attr(title)} ({_attr(currency)})" ',
                  svg, count=1)


def _draw(figure: Figure, axes: Axes, chart_id: str, title: str, categories: list[str], series: list[Series],
          currency: str, lang: str) -> tuple[io.StringIO, list[Artist | Container]]:
    """The chart drawn on a blank figure as SVG, and what it added to the figure."""
    from matplotlib.ticker import FuncFormatter

    added: list[Artist | Container] = []
    slot = 0.8 / max(len(series), 1)
    for j, s in enumerate(series):
        xs = [i - 0.4 + slot * (j + 0.5) for i in range(len(categories))]
        heights = [float(v) if v is not None else 0.0 for v in s.values]
        bars = axes.bar(xs, heights, slot * 0.92, label=s.name, color=PALETTE[j % len(PALETTE)], zorder=2)
        for i, bar in enumerate(bars):
            bar.set_gid(f"{chart_id}-{s.key}-{i}")
        added.append(bars)
        added.extend(axes.bar_label(bars, labels=[_whole(float(v), lang) if v else "" for v in s.values],
                                    fontsize=6.5, padding=2, rotation=90 if len(categories) * len(series) > 16 else 0))
    added.append(axes.axhline(0, color="#333", linewidth=0.8, zorder=3))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _whole(v, lang)))
    axes.set_ylabel(currency)
    # a figure text, not the axes' title: placing that measures every tick label again
    added.append(figure.text(0.09, 0.95, title, fontsize=10, fontweight="bold"))
    if len(series) > 1:
        added.append(figure.legend(frameon=False, ncols=len(series), loc="upper right", bbox_to_anchor=(0.99, 0.99)))
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    return out, added


def _attr(value: str) -> str:
    from html import escape
    return escape(value, quote=True)


def monthly_result_svg(monthly: dict[int, list[Decimal | None]], currency: str, lang: str = "nb") -> str:
    """The monthly result as bars, this year (the later year in ``monthly``) beside last year."""
    last_year, this_year = sorted(monthly)
    return bar_chart("monthly-result", text("monthly result chart", lang, this=this_year, last=last_year),
                     list(MONTHS[lang]), [Series("last-year", str(last_year), monthly[last_year]),
                                          Series("this-year", str(this_year), monthly[this_year])], currency, lang)
