"""A bar chart as inline SVG, drawn on the server: no script, no external asset."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 600, 120
_TOP, _BOTTOM, _LEFT = 14, 18, 34


def bar_chart(values: Sequence[int | None], *, label: str, element_id: str) -> str:
    """One bar per value, oldest on the left; 0 or a missing value (no history yet) draws none.
    The axis says the scale; ``label`` is the chart's accessible name and its title."""
    known = [v for v in values if v is not None]
    peak = max(known, default=0)
    scale = max(peak, 1)
    plot_w = WIDTH - _LEFT - 4
    plot_h = HEIGHT - _TOP - _BOTTOM
    step = plot_w / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        if not value:  # no history yet, or none that minute: nothing to draw
            continue
        h = plot_h * value / scale
        x = _LEFT + i * step
        y = _TOP + plot_h - h
        bars.append(
            f'<rect class=bar x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}">'
            f"<title>{value:,}</title></rect>"
        )
    base = _TOP + plot_h
    axis = (
        f'<line x1="{_LEFT}" y1="{base}" x2="{WIDTH - 4}" y2="{base}" class=axis />'
        + (f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor=end class=tick>{peak:,}</text>' if peak else "")
        + f'<text x="{_LEFT - 4}" y="{base}" text-anchor=end class=tick>0</text>'
        f'<text x="{_LEFT}" y="{HEIGHT - 4}" class=tick>{len(values)} min ago</text>'
        f'<text x="{WIDTH - 4}" y="{HEIGHT - 4}" text-anchor=end class=tick>now</text>'
    )
    empty = (
        ""
        if known
        else f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor=middle class=tick>no history yet</text>'
    )
    title = escape(label)
    return (
        f'<svg id={element_id} role=img aria-label="{title}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>'
        f"{axis}{''.join(bars)}{empty}</svg>"
    )
