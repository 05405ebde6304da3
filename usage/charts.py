"""Charts drawn on the server as inline SVG: no JavaScript, nothing fetched, readable in any browser.

Every text that reaches the SVG goes through format_html, so labels are escaped. Elements carry classes,
not style attributes, which the Content-Security-Policy refuses (docs/security.md): the stylesheet
usage/static/usage/usage.css gives them the Django admin's colours (CSS custom properties, with
fallbacks), so the charts follow its light and dark themes. A page showing a chart loads that stylesheet.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 1000, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 34, 28  # room for the y labels, the legend and the x labels
MAX_X_LABELS = 10

QUIET = "quiet"  # the tone of an empty day in a sparkline

SVG = (
    '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">'
    "{}{}{}{}{}{}</svg>"
)
BAR = '<rect x="{}" y="{}" width="{}" height="{}" class="tone-{}"/>'
COLUMN = '<rect x="{}" y="{}" width="{}" height="{}" fill="transparent"><title>{}</title></rect>'
DOT = '<circle cx="{}" cy="{}" r="3.5" class="tone-{}"><title>{} — {}: {}</title></circle>'
LINE = '<polyline points="{}" class="line tone-{}"/>'
GRID_LINE = (
    '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
    '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" class="tick">{}</text>'
)
X_AXIS = '<line x1="{}" x2="{}" y1="{}" y2="{}" class="axis"/>'
X_LABEL = '<text x="{}" y="{}" text-anchor="middle" class="tick">{}</text>'
KEY = '<rect x="{}" y="6" width="12" height="12" rx="2" class="tone-{}"/><text x="{}" y="17" class="legend">{}</text>'
EMPTY = '<text x="{}" y="{}" text-anchor="middle" class="tick">{}</text>'
NOTHING = "Nothing in this period"  # the admin's charts are in English; a page in another language passes its own
SPARK = '<rect x="{}" y="{}" width="{}" height="{}" class="tone-{}"><title>{}: {}</title></rect>'

Formatter = Callable[[float], str]


@dataclasses.dataclass(frozen=True)
class Series:
    """One stacked layer of a bar chart, or the one line of a line chart."""

    label: str
    values: Sequence[float | None]
    tone: str  # its colour: "tone-<tone>" in usage/static/usage/usage.css, e.g. "ok" or "error"


def compact(value: float) -> str:
    """1234 -> "1.2k", 3_400_000 -> "3.4M": axis labels stay short."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".removesuffix(".0") + suffix
    return f"{value:.1f}".removesuffix(".0")


def percent(value: float) -> str:
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def whole(value: float) -> str:
    return f"{value:,.0f}"


def nice_ceiling(value: float) -> tuple[float, float]:
    """The top of an axis at or above `value`, and its tick step: a round number (1, 2, 2.5 or 5 times
    10^n), at most five ticks, the lowest top that allows, and about four ticks among equals."""
    if value <= 0:
        return 1.0, 0.25
    magnitude = 10 ** math.floor(math.log10(value / 5))
    steps = [m * magnitude for m in (1, 2, 2.5, 5, 10, 20, 25, 50) if m * magnitude >= value / 5]
    ticks = {step: math.ceil(value / step - 1e-9) for step in steps}
    step = min(steps, key=lambda step: (step * ticks[step], abs(ticks[step] - 4)))
    return step * ticks[step], step


def bar_chart(
    *,
    labels: Sequence[str],
    series: Sequence[Series],
    title: str,
    axis: Formatter = compact,
    exact: Formatter = whole,
    empty_text: str = NOTHING,
) -> SafeString:
    """Stacked bars, one per label (a day), with a y axis, a legend and a tooltip over each column."""
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    plot = _Plot.over(max(totals, default=0), count=len(labels))
    parts = []
    for i, label in enumerate(labels):
        base = 0.0
        for s in series:
            value = s.values[i] or 0
            if value:
                parts.append(plot.bar(i, base, value, s.tone))
            base += value
        # A transparent column over the whole height carries the tooltip, so small bars show it too.
        tooltip = f"{label} — " + ", ".join(f"{s.label}: {exact(s.values[i] or 0)}" for s in series)
        parts.append(format_html(COLUMN, plot.x(i), TOP, round(plot.slot, 1), plot.bottom - TOP, tooltip))
    empty = not any(totals)
    return _frame(
        title=title, plot=plot, axis=axis, labels=labels, series=series, body=parts, empty=empty, note=empty_text
    )


def line_chart(*, labels: Sequence[str], line: Series, title: str, axis: Formatter = percent) -> SafeString:
    """One line over the labels, a dot on each value; None (nothing to measure that day) breaks it."""
    plot = _Plot.over(max((v for v in line.values if v is not None), default=0), count=len(labels))
    runs: list[list[str]] = [[]]
    dots = []
    for i, value in enumerate(line.values):
        if value is None:
            runs.append([])
            continue
        x, y = plot.middle(i), plot.y(value)
        runs[-1].append(f"{x},{y}")
        dots.append(format_html(DOT, x, y, line.tone, labels[i], line.label, axis(value)))
    paths = [format_html(LINE, " ".join(run), line.tone) for run in runs if len(run) > 1]
    return _frame(title=title, plot=plot, axis=axis, labels=labels, series=[line], body=paths + dots, empty=not dots)


def sparkline(*, labels: Sequence[str], values: Sequence[float], tooltips: Sequence[str], tone: str) -> SafeString:
    """A small bar per label and no axes: the shape of a month at a glance, the numbers in the tooltips."""
    pitch, height = 8, 36
    top = max(values, default=0) or 1
    bars = []
    for i, (label, value, tooltip) in enumerate(zip(labels, values, tooltips, strict=True)):
        size = round(max(height * value / top, 2), 1)
        fill = tone if value else QUIET  # an empty day is a grey sliver, so the month keeps its shape
        bars.append(format_html(SPARK, pitch * i, round(height - size, 1), pitch - 2, size, fill, label, tooltip))
    return format_html(
        '<svg class="chart sparkline" width="{}" height="{}" role="img" aria-label="Requests per day">{}</svg>',
        pitch * len(values),
        height,
        _joined(bars),
    )


@dataclasses.dataclass(frozen=True)
class _Plot:
    count: int
    top: float
    step: float
    bottom: float = HEIGHT - BOTTOM

    @classmethod
    def over(cls, highest: float, *, count: int) -> _Plot:
        top, step = nice_ceiling(highest)
        return cls(count=count, top=top, step=step)

    @property
    def slot(self) -> float:
        return (WIDTH - LEFT - RIGHT) / max(self.count, 1)

    # Coordinates are rounded to a tenth of a unit (a ten-thousandth of the width): the SVG stays short.
    def x(self, i: int) -> float:
        return round(LEFT + i * self.slot, 1)

    def middle(self, i: int) -> float:
        return round(LEFT + (i + 0.5) * self.slot, 1)

    def y(self, value: float) -> float:
        return round(self.bottom - (self.bottom - TOP) * value / self.top, 1)

    def ticks(self) -> list[float]:
        return [self.step * n for n in range(1, round(self.top / self.step) + 1)]

    def bar(self, i: int, base: float, value: float, tone: str) -> SafeString:
        gap = max(min(self.slot * 0.25, 8), self.slot - 48)  # a week's bars stay bars, not slabs
        height = round(max(self.y(base) - self.y(base + value), 1), 1)  # too small to see: still a sliver
        x, y, width = round(self.x(i) + gap / 2, 1), round(self.y(base) - height, 1), round(self.slot - gap, 1)
        return format_html(BAR, x, y, width, height, tone)


def _frame(
    *, title: str, plot: _Plot, axis: Formatter, labels, series, body, empty: bool, note: str = NOTHING
) -> SafeString:
    """The chart around `body`: grid lines with the y labels, the x axis, the day labels and a legend."""
    grid = [
        format_html(GRID_LINE, LEFT, WIDTH - RIGHT, plot.y(v), plot.y(v), LEFT - 8, plot.y(v), axis(v))
        for v in plot.ticks()
    ]
    x_axis = format_html(X_AXIS, LEFT, WIDTH - RIGHT, plot.bottom, plot.bottom)
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    # Counted back from the last day, so that the last day (today) always has its label.
    x_labels = [
        format_html(X_LABEL, plot.middle(i), HEIGHT - 8, label)
        for i, label in enumerate(labels)
        if (len(labels) - 1 - i) % every == 0
    ]
    legend = [format_html(KEY, LEFT + 170 * n, s.tone, LEFT + 170 * n + 18, s.label) for n, s in enumerate(series)]
    shown = format_html(EMPTY, (LEFT + WIDTH - RIGHT) // 2, (TOP + plot.bottom) // 2, note) if empty else ""
    return format_html(
        SVG, WIDTH, HEIGHT, title, _joined(grid), _joined(body), x_axis, _joined(x_labels), _joined(legend), shown
    )


def _joined(parts: Sequence[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))
