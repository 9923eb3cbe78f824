"""The monthly result as bars, this year against last, drawn as inline SVG.

Twelve pairs of bars need no plotting library: the chart is a few dozen
``<rect>`` elements, it renders in every browser and mail client, and it keeps
the reports free of a heavy dependency.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from osr_pipelines.reports.tables import amount

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WIDTH, HEIGHT, MARGIN, AXIS = 720, 260, 24, 20
COLOURS = {"this": "#1f77b4", "last": "#b0b7c3"}


def monthly_result_svg(monthly: dict[int, list[Decimal | None]], currency: str) -> str:
    """Bars per month: this year (the later year in ``monthly``) beside last year; profit up, loss down."""
    last_year, this_year = sorted(monthly)
    values = [v for year in monthly.values() for v in year if v is not None]
    top = max([v for v in values if v > 0], default=Decimal(0))
    bottom = min([v for v in values if v < 0], default=Decimal(0))
    span = (top - bottom) or Decimal(1)
    plot = HEIGHT - 2 * MARGIN - AXIS
    zero = MARGIN + float(top / span) * plot
    slot = (WIDTH - 2 * MARGIN) / 12
    bar = slot * 0.38
    parts = [f'<svg id="monthly-result" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Monthly result, {this_year} against '
             f'{last_year} ({escape(currency)})">',
             f'<line x1="{MARGIN}" y1="{zero:.1f}" x2="{WIDTH - MARGIN}" y2="{zero:.1f}" stroke="#333"/>']
    for month in range(12):
        x = MARGIN + month * slot + slot * 0.12
        for offset, (series, year) in enumerate((("last", last_year), ("this", this_year))):
            value = monthly[year][month]
            if value is None:
                continue
            height = abs(float(value / span)) * plot
            y = zero - height if value > 0 else zero
            parts.append(f'<rect class="bar {series}-year" data-month="{year}-{month + 1:02d}" data-value="{value}" '
                         f'x="{x + offset * bar:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                         f'fill="{COLOURS[series]}"><title>{MONTHS[month]} {year}: {amount(value)} '
                         f'{escape(currency)}</title></rect>')
        parts.append(f'<text x="{x + bar:.1f}" y="{HEIGHT - MARGIN + 4}" font-size="11" text-anchor="middle">'
                     f'{MONTHS[month]}</text>')
    for i, (series, year) in enumerate((("this", this_year), ("last", last_year))):
        parts.append(f'<rect x="{WIDTH - MARGIN - 150 + i * 75}" y="4" width="10" height="10" '
                     f'fill="{COLOURS[series]}"/><text class="legend" x="{WIDTH - MARGIN - 136 + i * 75}" y="13" '
                     f'font-size="11">{year}</text>')
    parts.append("</svg>")
    return "".join(parts)
