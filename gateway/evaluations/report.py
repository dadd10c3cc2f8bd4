"""Scorecards as text: the table and the JSON that ``gateway score`` prints."""

from __future__ import annotations

import orjson

from gateway.evaluations.indicators import Scorecard

__all__ = ["render_json", "render_table"]


def render_json(card: Scorecard) -> str:
    """``{"agency", "period", "indicators": [{id, numerator, denominator, ratio, points,
    max_points}], "total"}``; an indicator without data has ``null`` ratio and points."""
    return orjson.dumps(
        {
            "agency": card.agency,
            "period": card.period,
            "indicators": [
                {
                    "id": i.id,
                    "numerator": i.numerator,
                    "denominator": i.denominator,
                    "ratio": i.ratio,
                    "points": i.points,
                    "max_points": i.max_points,
                }
                for i in card.indicators
            ],
            "total": card.total,
        }
    ).decode()


def _num(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.2f}"


def render_table(card: Scorecard, *, explain: str | None = None) -> str:
    """The indicators, group totals and total as a fixed-width table, then the explanations."""
    lines = [
        f"Decision 766 indicators: agency {card.agency}, period {card.period} (UTC+7)",
        "",
        f"{'indicator':<22}{'numerator':>11}{'denominator':>13}{'ratio':>9}{'points':>14}",
    ]
    for i in card.indicators:
        if i.ratio is None:
            tail = f"{'no data yet':>23}"
        elif i.id == "avg_processing_days":
            tail = f"{i.ratio:>8.2f}d{'':>14}"
        else:
            tail = f"{i.ratio * 100:>8.1f}%{_num(i.points or 0):>8} / {_num(i.max_points):<3}"
        lines.append(f"{i.id:<22}{_num(i.numerator):>11}{_num(i.denominator):>13}{tail}")
    lines.append("")
    with_data = {i.group for i in card.indicators if i.ratio is not None}
    for group, points in card.groups.items():
        shown = _num(points) if group in with_data else "no data yet"
        lines.append(f"{'group ' + group:<46}{shown:>13}")
    lines.append(f"{'total':<46}{_num(card.total):>13} / {_num(card.max_total)}")
    if explain is not None:
        lines += ["", f"Dossiers behind lost points on {explain}: {len(card.explanations)}"]
        lines += [f"  {e.dossier_no}  {e.reason}" for e in card.explanations]
    return "\n".join(line.rstrip() for line in lines)
