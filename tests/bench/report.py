"""Small helpers for printing benchmark figures."""

from __future__ import annotations

import math


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[index]


def table(title: str, figures: dict[str, float]) -> str:
    lines = [f"== {title} =="]
    for name, value in figures.items():
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        lines.append(f"  {name:<32} {shown}")
    return "\n".join(lines)
