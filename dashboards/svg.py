"""Charts drawn on the server as small inline SVG: bars, a line with an optional fit, a day × hour grid.

No JavaScript and no chart library: the pages stay usable offline and in screenshots. Every
text goes through `escape`, since labels come from the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_FONT = "font-family='sans-serif' font-size='11'"


def bar_chart(bars: Sequence[tuple[str, float | None]], width: int = 480, bar_h: int = 18, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value), labelled with their value; a value of None (no
    data) gets no bar and the label "—", never a misleading 0."""
    label_w, gap = 130, 6
    height = max(1, len(bars)) * (bar_h + gap) + gap
    top = max((v for _, v in bars if v is not None), default=0.0) or 1.0
    parts = [f"<svg class='chart' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' {_FONT}>"]
    for i, (label, value) in enumerate(bars):
        y = gap + i * (bar_h + gap)
        w = (width - label_w - 60) * (value or 0.0) / top
        parts.append(f"<text x='{label_w - 6}' y='{y + bar_h * 0.7:.1f}' text-anchor='end'>{escape(label)}</text>")
        parts.append(f"<rect x='{label_w}' y='{y}' width='{w:.1f}' height='{bar_h}' fill='#3b7dd8'/>")
        text = "—" if value is None else f"{value:g}{unit}"
        parts.append(f"<text x='{label_w + w + 4:.1f}' y='{y + bar_h * 0.7:.1f}'>{escape(text)}</text>")
    if not bars:
        parts.append(f"<text x='{width / 2}' y='{height / 2 + 4}' text-anchor='middle'>—</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[tuple[float, float]],
    width: int = 520,
    height: int = 160,
    y_range: tuple[float, float] = (0.0, 100.0),
    fit: tuple[tuple[float, float], tuple[float, float]] | None = None,
    x_labels: tuple[str, str] = ("", ""),
) -> Markup:
    """A polyline of (x, y) points scaled into the box; `fit` is an extra dashed segment."""
    pad = 28
    parts = [f"<svg class='chart' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' {_FONT}>"]
    parts.append(f"<rect x='{pad}' y='4' width='{width - pad - 4}' height='{height - pad}' fill='none' stroke='#ccc'/>")
    lo, hi = y_range
    parts.append(f"<text x='{pad - 4}' y='12' text-anchor='end'>{hi:g}</text>")
    parts.append(f"<text x='{pad - 4}' y='{height - pad + 4}' text-anchor='end'>{lo:g}</text>")
    parts.append(f"<text x='{pad}' y='{height - 8}'>{escape(x_labels[0])}</text>")
    parts.append(f"<text x='{width - 4}' y='{height - 8}' text-anchor='end'>{escape(x_labels[1])}</text>")
    xs = [x for x, _ in points] + ([fit[0][0], fit[1][0]] if fit else [])
    if xs:
        x0, x1 = min(xs), max(xs)
        span = (x1 - x0) or 1.0

        def sx(x: float) -> float:
            return pad + (width - pad - 8) * (x - x0) / span

        def sy(y: float) -> float:
            y = min(max(y, lo), hi)
            return 4 + (height - pad) * (1 - (y - lo) / ((hi - lo) or 1.0))

        if points:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
            parts.append(f"<polyline points='{path}' fill='none' stroke='#3b7dd8' stroke-width='2'/>")
        if fit:
            (ax, ay), (bx, by) = fit
            parts.append(
                f"<line x1='{sx(ax):.1f}' y1='{sy(ay):.1f}' x2='{sx(bx):.1f}' y2='{sy(by):.1f}' "
                "stroke='#d8553b' stroke-dasharray='5 4' stroke-width='1.5'/>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def day_hour_grid(rows: Sequence[tuple[str, Sequence[int]]], cell: int = 16) -> Markup:
    """A heat grid: one row per day (label, 24 counts), darker cells for more activity."""
    label_w = 52
    width, height = label_w + 24 * cell + 4, (len(rows) + 1) * cell + 4
    top = max((max(counts) for _, counts in rows if counts), default=0) or 1
    parts = [f"<svg class='chart' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' {_FONT}>"]
    for hour in range(0, 24, 3):
        parts.append(f"<text x='{label_w + hour * cell + 2}' y='{cell - 4}'>{hour:02d}</text>")
    for r, (label, counts) in enumerate(rows):
        y = (r + 1) * cell
        parts.append(f"<text x='{label_w - 4}' y='{y + cell - 4}' text-anchor='end'>{escape(label)}</text>")
        for hour, count in enumerate(counts):
            shade = 0.08 + 0.92 * count / top if count else 0.0
            fill = f"rgba(59,125,216,{shade:.2f})" if count else "#f1f1f1"
            parts.append(
                f"<rect x='{label_w + hour * cell}' y='{y}' width='{cell - 1}' height='{cell - 1}' fill='{fill}'>"
                f"<title>{escape(label)} {hour:02d}:00 — {count}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
