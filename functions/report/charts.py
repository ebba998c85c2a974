"""The report's three SVG charts as geometry: score per criterion per model (bars), weighted score
against cost (scatter) and latency (bars). Each takes the view's models and returns the numbers the
``_charts.html.j2`` template draws, or None when there is nothing to draw (never a bar at 0 for a
score that does not exist)."""

from __future__ import annotations

import math
from typing import Any

from functions.report.formats import millis, num, seconds, usd


def ticks(top: float, target: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``: steps of 1, 2, 2.5 or 5 times a power of ten."""
    if top <= 0:
        return [0.0]
    raw = top / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(f * magnitude for f in (1, 2, 2.5, 5, 10) if raw <= f * magnitude)
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 12) for i in range(count + 1)]


def _frame(width: int, height: int, left: int, right: int, top: int, plot_h: int) -> dict[str, Any]:
    """Where a chart's plot area sits in its SVG."""
    return {"width": width, "height": height, "left": left, "right": width - right, "top": top, "bottom": top + plot_h}


def short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bars_chart(models: list[dict[str, Any]], criteria: list[str]) -> dict[str, Any] | None:
    scored = [m for m in models if m["status"] == "scored"]
    if not scored or not criteria:
        return None
    width, height, left, right, top, bottom = 760, 250, 34, 8, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / len(criteria)
    bar_w = min(34.0, group_w * 0.8 / len(scored))
    bars, groups = [], []
    for g, criterion in enumerate(criteria):
        start = left + g * group_w + (group_w - bar_w * len(scored)) / 2
        groups.append({"x": left + (g + 0.5) * group_w, "label": short(criterion, 28)})
        for i, m in enumerate(scored):
            entry = m["scores"].get(criterion)
            score = entry["score"] if entry else None
            if score is None:
                continue
            h = plot_h * min(score, 10) / 10
            bars.append(
                {
                    "x": round(start + i * bar_w + 1, 1),
                    "y": round(top + plot_h - h, 1),
                    "w": round(bar_w - 2, 1),
                    "h": round(h, 1),
                    "color": m["color"],
                    "value": num(score),
                    "title": f"{m['name']}: {criterion} {num(score)}/10",
                    "model": m["id"],
                }
            )
    return {
        **_frame(width, height, left, right, top, plot_h),
        "bars": bars,
        "groups": groups,
        "label_y": height - 10,
        "yticks": [{"y": round(top + plot_h * (1 - t / 10), 1), "label": num(t)} for t in range(0, 11, 2)],
    }


def scatter_chart(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    points = [m for m in models if m["status"] == "scored" and isinstance(m["cost"], float)]
    if not points:
        return None
    width, height, left, right, top, bottom = 460, 280, 46, 24, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    xticks = ticks(max(m["cost"] for m in points))
    x_max = xticks[-1] or 1.0
    y_min = max(0.0, math.floor(min(m["weighted"] for m in points)) - 1)
    y_min = min(y_min, 8.0)
    dots = []
    for m in points:
        x = left + plot_w * m["cost"] / x_max
        y = top + plot_h * (1 - (m["weighted"] - y_min) / (10 - y_min))
        dots.append(
            {
                "x": round(x, 1),
                "y": round(y, 1),
                "color": m["color"],
                "model": m["id"],
                "label": short(m["name"]),
                "anchor": "end" if x > left + plot_w * 0.6 else "start",
                "title": f"{m['name']}: score {num(m['weighted'], 2)}, cost {usd(m['cost'])}",
            }
        )
    # Labels sit beside their dots; nudge them apart vertically so close models stay readable.
    placed: list[float] = []
    for dot in sorted(dots, key=lambda d: d["y"]):
        label_y = dot["y"] + 4
        while any(abs(label_y - other) < 13 for other in placed):
            label_y += 13
        placed.append(label_y)
        dot["label_y"] = round(label_y, 1)
        dot["label_x"] = round(dot["x"] - 9 if dot["anchor"] == "end" else dot["x"] + 9, 1)
    y_ticks = [t for t in range(math.ceil(y_min), 11) if (10 - y_min) <= 5 or t % 2 == 0]
    paid = [m for m in points if m["cost"] > 0]
    best_value = max(paid, key=lambda m: m["weighted"] / m["cost"]) if len(paid) > 1 else None
    return {
        **_frame(width, height, left, right, top, plot_h),
        "dots": dots,
        "label_y": height - 6,
        "xticks": [{"x": round(left + plot_w * t / x_max, 1), "label": usd(t)} for t in xticks],
        "yticks": [{"y": round(top + plot_h * (1 - (t - y_min) / (10 - y_min)), 1), "label": num(t)} for t in y_ticks],
        "all_free": not paid,
        "best_value": best_value["name"] if best_value else None,
    }


def latency_chart(models: list[dict[str, Any]]) -> dict[str, Any] | None:
    timed = [m for m in models if m["latency_ms"] is not None]
    if not timed:
        return None
    row, left, right, top = 26, 168, 64, 6
    width = 460
    plot_w = width - left - right
    xticks = ticks(max(m["latency_ms"] for m in timed) / 1000, 4)
    x_max = xticks[-1] or 1.0
    height = top + row * len(timed) + 24
    bars = []
    for i, m in enumerate(timed):
        w = plot_w * (m["latency_ms"] / 1000) / x_max
        y = top + i * row
        bars.append(
            {
                "x": left,
                "y": y + 5,
                "w": round(max(w, 1.0), 1),
                "h": row - 10,
                "color": m["color"],
                "model": m["id"],
                "name": short(m["name"]),
                "name_y": y + row / 2 + 4,
                "value": millis(m["latency_ms"]),
                "value_x": round(left + max(w, 1.0) + 5, 1),
                "title": f"{m['name']}: {millis(m['latency_ms'])}" + (" (cached)" if m["cached"] else ""),
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "top": top,
        "bottom": top + row * len(timed),
        "bars": bars,
        "label_y": height - 6,
        "xticks": [{"x": round(left + plot_w * t / x_max, 1), "label": seconds(t)} for t in xticks],
    }
