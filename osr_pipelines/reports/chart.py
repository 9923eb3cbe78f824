"""Bar charts as inline SVG: monthly result this year against last, and per company in a client.

A few dozen ``<rect>`` elements need no plotting library: the charts render in
every browser, print well, and keep the reports free of a heavy dependency.
Every bar carries its category and value as data attributes, so a test (or a
script) can read the chart back from the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from osr_pipelines.reports.tables import amount

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HEIGHT, MARGIN, AXIS, LEGEND = 260, 24, 20, 16
PALETTE = ("#b0b7c3", "#1f77b4", "#d62728", "#2ca02c")


@dataclass(frozen=True)
class Series:
    #: short name, also the bars' CSS class (``bar <key>``)
    key: str
    name: str
    values: list[Decimal | None]


def bar_chart(chart_id: str, title: str, categories: list[str], series: list[Series], currency: str,
              width: int = 720) -> str:
    """Grouped bars, one group per category, one bar per series; positive up, negative down from zero."""
    values = [v for s in series for v in s.values if v is not None]
    top = max([v for v in values if v > 0], default=Decimal(0))
    bottom = min([v for v in values if v < 0], default=Decimal(0))
    span = (top - bottom) or Decimal(1)
    plot = HEIGHT - 2 * MARGIN - AXIS - LEGEND
    zero = MARGIN + LEGEND + float(top / span) * plot
    slot = (width - 2 * MARGIN) / max(len(categories), 1)
    bar = slot * 0.76 / max(len(series), 1)
    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
             f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{escape(title)} ({escape(currency)})">',
             f'<line x1="{MARGIN}" y1="{zero:.1f}" x2="{width - MARGIN}" y2="{zero:.1f}" stroke="#333"/>']
    for i, category in enumerate(categories):
        x = MARGIN + i * slot + slot * 0.12
        for j, s in enumerate(series):
            value = s.values[i]
            if value is None:
                continue
            height = abs(float(value / span)) * plot
            y = zero - height if value > 0 else zero
            parts.append(f'<rect class="bar {escape(s.key)}" data-category="{escape(category)}" '
                         f'data-value="{value}" x="{x + j * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{height:.1f}" fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(category)}, '
                         f'{escape(s.name)}: {amount(value)} {escape(currency)}</title></rect>')
        parts.append(f'<text x="{x + bar * len(series) / 2:.1f}" y="{HEIGHT - MARGIN + 4}" font-size="11" '
                     f'text-anchor="middle">{escape(category)}</text>')
    for j, s in enumerate(series):
        x = MARGIN + j * 140
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text class="legend" x="{x + 14}" y="13" font-size="11">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def monthly_result_svg(monthly: dict[int, list[Decimal | None]], currency: str) -> str:
    """The monthly result as bars, this year (the later year in ``monthly``) beside last year."""
    last_year, this_year = sorted(monthly)
    return bar_chart("monthly-result", f"Monthly result, {this_year} against {last_year}", list(MONTHS),
                     [Series("last-year", str(last_year), monthly[last_year]),
                      Series("this-year", str(this_year), monthly[this_year])], currency)
