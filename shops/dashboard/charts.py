"""Line charts over time as inline SVG, drawn on the server: no script and no chart library.

Pure (numbers in, markup out, no Django), so it is tested without a database. Every text that
goes into the markup is escaped here, which is what lets a view mark the result safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# A colour and a dash pattern per series: the dash tells the lines apart without relying on colour
# (WCAG 1.4.1), and both colours keep a 3:1 contrast against white (WCAG 1.4.11).
SERIES_STYLES = (("#1f4f8a", ""), ("#b34700", "6 3"), ("#0b6e3f", "2 3"))
TEXT_COLOUR = "#4a4a4f"
GRID_COLOUR = "#d8d8dc"
FONT_SIZE = 12
# Dots for every value only while they stay apart; beyond this the line alone reads better.
MAX_DOTTED_POINTS = 31
# A rough width of one character at FONT_SIZE, to space the legend without measuring text.
CHARACTER_WIDTH = 6.8


@dataclass(frozen=True)
class Series:
    name: str
    # One value per label; None where there is no value (a gap in the line, not a zero).
    values: Sequence[float | None]


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    step: float

    @property
    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [self.low + self.step * index for index in range(count + 1)]


def nice_step(raw_step: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `raw_step`."""
    if raw_step <= 0 or not math.isfinite(raw_step):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw_step))
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude >= raw_step * (1 - 1e-9):
            return multiple * magnitude
    return 10 * magnitude


def value_scale(values: Sequence[float], *, intervals: int = 4, whole_numbers: bool = False) -> Scale:
    """An axis from zero (or below, for negative values) to a round number above the largest value."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if high == low:
        high = low + 1
    step = nice_step((high - low) / intervals)
    if whole_numbers:
        step = max(step, 1.0)
    return Scale(low=math.floor(low / step) * step, high=math.ceil(high / step) * step, step=step)


def tick_label(value: float) -> str:
    """1,250 / 2.5 / 0.25: as short as the value allows, thousands grouped."""
    if abs(value - round(value)) < 1e-9:
        return f"{round(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def line_chart_svg(
    *,
    chart_id: str,
    title: str,
    summary: str,
    labels: Sequence[str],
    series: Sequence[Series],
    whole_numbers: bool = False,
    width: int = 440,
    height: int = 220,
) -> str:
    """An SVG line chart, oldest label on the left. `title` names it and `summary` says what it
    shows in words (both announced by screen readers: the SVG is one image to them); the page's
    data table remains the full accessible alternative."""
    if len(series) > len(SERIES_STYLES):
        raise ValueError(f"at most {len(SERIES_STYLES)} series per chart")
    for line in series:
        if len(line.values) != len(labels):
            raise ValueError(f"series {line.name!r} has {len(line.values)} values for {len(labels)} labels")
    left, right, top, bottom = 52, 12, 30, 26
    plot_width, plot_height = width - left - right, height - top - bottom
    present = [float(value) for line in series for value in line.values if value is not None]
    scale = value_scale(present, whole_numbers=whole_numbers)

    def x_of(index: int) -> float:
        if len(labels) == 1:
            return left + plot_width / 2
        return left + plot_width * index / (len(labels) - 1)

    def y_of(value: float) -> float:
        return top + plot_height * (scale.high - value) / (scale.high - scale.low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'focusable="false" style="width:100%;height:auto;display:block" font-family="system-ui, sans-serif" '
        f'font-size="{FONT_SIZE}">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(summary)}</desc>',
    ]
    for tick in scale.ticks:
        y = _number(y_of(tick))
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="{GRID_COLOUR}"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
            f'fill="{TEXT_COLOUR}">{escape(tick_label(tick))}</text>'
        )
    if labels:
        shown = sorted({0, len(labels) // 2, len(labels) - 1}) if len(labels) > 2 else list(range(len(labels)))
        edges = {0: "start", len(labels) - 1: "end"} if len(labels) > 1 else {}
        for index in shown:
            anchor = edges.get(index, "middle")
            parts.append(
                f'<text x="{_number(x_of(index))}" y="{height - 6}" text-anchor="{anchor}" '
                f'fill="{TEXT_COLOUR}">{escape(labels[index])}</text>'
            )
    legend_x = float(left)
    for line, (colour, dash) in zip(series, SERIES_STYLES, strict=False):
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_number(legend_x)}" y1="12" x2="{_number(legend_x + 22)}" y2="12" stroke="{colour}" '
            f'stroke-width="2.5"{dash_attribute}/>'
        )
        parts.append(
            f'<text x="{_number(legend_x + 28)}" y="12" dominant-baseline="middle" fill="{TEXT_COLOUR}">'
            f"{escape(line.name)}</text>"
        )
        legend_x += 28 + len(line.name) * CHARACTER_WIDTH + 18
    dotted = len(labels) <= MAX_DOTTED_POINTS
    for line, (colour, dash) in zip(series, SERIES_STYLES, strict=False):
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        for segment in _segments(line.values):
            points = [(x_of(index), y_of(float(value))) for index, value in segment]
            if len(points) > 1:
                path = " ".join(f"{_number(x)},{_number(y)}" for x, y in points)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"'
                    f'{dash_attribute} stroke-linejoin="round"/>'
                )
            if dotted or len(points) == 1:
                for (index, value), (x, y) in zip(segment, points, strict=True):
                    tip = f"{labels[index]}: {line.name} {tick_label(float(value))}"
                    parts.append(
                        f'<circle cx="{_number(x)}" cy="{_number(y)}" r="2.5" fill="{colour}">'
                        f"<title>{escape(tip)}</title></circle>"
                    )
    parts.append("</svg>")
    return "".join(parts)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive values that exist, with their positions."""
    segments: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        segments.append(current)
    return segments
