"""Charts as inline SVG, drawn on the server: no JavaScript, nothing fetched from anywhere."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["line_chart"]


def line_chart(
    points: Sequence[tuple[int, float]], *, title: str, width: int = 360, height: int = 90
) -> str:
    """An SVG line chart of ``(unix time, value)`` points with its maximum labelled."""
    label = escape(title)
    if len(points) < 2:
        return (
            f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}">'
            f'<text x="8" y="{height // 2}">{label}: not enough samples yet</text></svg>'
        )
    t0, t1 = points[0][0], points[-1][0]
    top = max(v for _, v in points) or 1.0
    span = max(t1 - t0, 1)
    pad = 14
    coords = " ".join(
        f"{pad + (t - t0) / span * (width - 2 * pad):.1f},"
        f"{height - pad - v / top * (height - 2 * pad):.1f}"
        for t, v in points
    )
    return (
        f'<svg class="chart" role="img" aria-label="{label}" width="{width}" height="{height}">'
        f'<text x="4" y="11">{label} (max {top:,.0f})</text>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{coords}"/>'
        f"</svg>"
    )
