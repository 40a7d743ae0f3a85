"""Charts drawn on the server as inline SVG: nothing loaded from anywhere, no script.

Colours come from classes (console.css: .s0 … .s5), never style attributes, so the page's
Content-Security-Policy needs no 'unsafe-inline'. Every bar has a <title> (its figure on
hover and for screen readers) and every chart sits beside a table with the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 600, 220
_AXIS, _TOP = 24, 8
SERIES_CLASSES = 6


def stacked_bars(labels: Sequence[str], series: Mapping[str, Sequence[float]],
                 title: str) -> Markup:
    """One bar per label, stacked by series (in the dict's order); legend below."""
    total = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(total, default=0) or 1
    slot = (WIDTH - 8) / max(len(labels), 1)
    plot = HEIGHT - _AXIS - _TOP
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>",
             f'<line class="axis" x1="4" y1="{HEIGHT - _AXIS}" x2="{WIDTH - 4}" '
             f'y2="{HEIGHT - _AXIS}"/>']
    for i, label in enumerate(labels):
        x, base = 4 + i * slot + slot * 0.1, float(HEIGHT - _AXIS)
        for n, (name, values) in enumerate(series.items()):
            value = values[i]
            if not value:
                continue
            height = plot * value / peak
            base -= height
            parts.append(f'<rect class="s{n % SERIES_CLASSES}" x="{x:.1f}" y="{base:.1f}" '
                         f'width="{slot * 0.8:.1f}" height="{height:.1f}">'
                         f"<title>{escape(label)} {escape(name)}: {_figure(value)}</title></rect>")
    for i in sorted({0, len(labels) - 1}) if labels else []:
        anchor = "start" if i == 0 else "end"
        x = 4 if i == 0 else WIDTH - 4
        parts.append(f'<text class="label" x="{x}" y="{HEIGHT - 6}" '
                     f'text-anchor="{anchor}">{escape(labels[i])}</text>')
    parts.append(f'<text class="label" x="{WIDTH - 4}" y="{_TOP + 10}" text-anchor="end">'
                 f"max {_figure(peak)}</text></svg>")
    return Markup("".join(parts)) + legend(list(series))


def bars(rows: Sequence[tuple[str, float]], title: str) -> Markup:
    """Horizontal bars, one per (label, value), longest = the largest value."""
    # Narrower than the other charts: at a phone's width its labels stay readable.
    peak = max((value for _, value in rows), default=0) or 1
    height, full, start = 30 * len(rows) + 4, 360, 110
    parts = [f'<svg class="chart" viewBox="0 0 {full} {height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(rows):
        y = 4 + i * 30
        width = (full - start - 40) * value / peak
        parts.append(f'<text class="label" x="4" y="{y + 17}">{escape(label)}</text>'
                     f'<rect class="s{i % SERIES_CLASSES}" x="{start}" y="{y}" '
                     f'width="{width:.1f}" height="22">'
                     f"<title>{escape(label)}: {_figure(value)}</title></rect>"
                     f'<text class="label" x="{start + width + 6:.1f}" y="{y + 17}">'
                     f"{_figure(value)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(names: Sequence[str]) -> Markup:
    items = "".join(f'<li><span class="key s{n % SERIES_CLASSES}"></span>{escape(name)}</li>'
                    for n, name in enumerate(names))
    return Markup(f'<ul class="legend">{items}</ul>')


def _figure(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
