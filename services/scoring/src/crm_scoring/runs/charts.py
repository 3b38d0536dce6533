"""The validation drawn as inline SVG: frequency-class bars and the tracking curve, each with axes,
tick labels, a legend and a title. Plain SVG text, no client-side script or external resource."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 40, 56
ACTUAL, PREDICTED = "#1f77b4", "#ff7f0e"


def _ticks(top: float, count: int = 5) -> list[float]:
    if top <= 0:
        return [0.0]
    step = top / count
    return [step * k for k in range(count + 1)]


def _frame(title: str, x_label: str, y_label: str, top: float, y: Any) -> list[str]:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{LEFT + inner_w}" y2="{TOP + inner_h}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + inner_h}" stroke="black"/>',
        f'<text x="{LEFT + inner_w / 2}" y="{HEIGHT - 12}" text-anchor="middle" font-size="12">'
        f"{escape(x_label)}</text>",
        f'<text x="16" y="{TOP + inner_h / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 16 {TOP + inner_h / 2})">{escape(y_label)}</text>',
    ]
    for tick in _ticks(top):
        ty = y(tick)
        out.append(f'<line x1="{LEFT - 4}" y1="{ty:.1f}" x2="{LEFT}" y2="{ty:.1f}" stroke="black"/>')
        out.append(f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="10">{tick:.4g}</text>')
    for k, (name, colour) in enumerate((("actual", ACTUAL), ("predicted", PREDICTED))):
        lx = LEFT + 10 + 90 * k
        out.append(f'<rect x="{lx}" y="{TOP - 2}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 14}" y="{TOP + 7}" font-size="11">{name}</text>')
    return out


def _svg(parts: Sequence[str], offset: int) -> str:
    return f'<g transform="translate(0 {offset})">' + "".join(parts) + "</g>"


def frequency_bars(classes: Sequence[dict[str, Any]]) -> list[str]:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    values = [v for c in classes for v in (c["actual_mean"], c["predicted_mean"]) if v is not None]
    top = max(values, default=1.0) * 1.1 or 1.0

    def y(value: float) -> float:
        return TOP + inner_h - value / top * inner_h

    out = _frame(
        "Holdout purchases per customer by calibration frequency",
        "repeat purchases in calibration",
        "mean purchases in holdout",
        top,
        y,
    )
    slot = inner_w / max(len(classes), 1)
    for k, c in enumerate(classes):
        x0 = LEFT + k * slot
        for j, (key, colour) in enumerate((("actual_mean", ACTUAL), ("predicted_mean", PREDICTED))):
            value = c[key] or 0.0
            bx = x0 + slot * (0.15 + 0.35 * j)
            out.append(
                f'<rect x="{bx:.1f}" y="{y(value):.1f}" width="{slot * 0.33:.1f}" '
                f'height="{TOP + inner_h - y(value):.1f}" fill="{colour}"><title>{escape(c["frequency"])}: '
                f"{key.split('_')[0]} {value:.3f}</title></rect>"
            )
        out.append(
            f'<text x="{x0 + slot / 2:.1f}" y="{TOP + inner_h + 14}" text-anchor="middle" font-size="10">'
            f"{escape(c['frequency'])} (n={c['customers']})</text>"
        )
    return out


def tracking_curve(tracking: dict[str, Any]) -> list[str]:
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    points = tracking["points"]
    top = max((max(p["actual"], p["predicted"]) for p in points), default=1.0) * 1.05 or 1.0
    weeks = max(len(points), 1)

    def y(value: float) -> float:
        return TOP + inner_h - value / top * inner_h

    def x(week: float) -> float:
        return LEFT + week / weeks * inner_w

    out = _frame("Cumulative repeat purchases (tracking)", "week", "cumulative repeat purchases", top, y)
    for key, colour in (("actual", ACTUAL), ("predicted", PREDICTED)):
        path = " ".join(f"{x(p['week']):.1f},{y(p[key]):.1f}" for p in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
    split = tracking["calibration_weeks"]
    out.append(
        f'<line x1="{x(split):.1f}" y1="{TOP}" x2="{x(split):.1f}" y2="{TOP + inner_h}" '
        'stroke="grey" stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="{x(split) + 4:.1f}" y="{TOP + 24}" font-size="10">end of calibration</text>')
    for week in range(0, weeks + 1, max(1, weeks // 8)):
        out.append(
            f'<text x="{x(week):.1f}" y="{TOP + inner_h + 14}" text-anchor="middle" font-size="10">{week}</text>'
        )
    return out


def validation_svg(result: dict[str, Any]) -> str:
    body = _svg(frequency_bars(result["by_frequency"]), 0) + _svg(tracking_curve(result["tracking"]), HEIGHT)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{2 * HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {2 * HEIGHT}" font-family="sans-serif" role="img" '
        f'aria-label="model validation">{body}</svg>'
    )
