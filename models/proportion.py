"""The Wilson score interval for a binomial proportion and the majority-class chance level,
from counts alone (stdlib only, so the MXNet worker's environment, which has no scipy, uses it
too)."""

from __future__ import annotations

import math

LEVEL = 0.95
Z = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson(successes: int, n: int, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``n`` (n > 0)."""
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def chance_of_counts(counts: list[int], class_names: list[str]) -> dict:
    """The majority class's share: the accuracy of always answering it."""
    top = max(range(len(counts)), key=lambda k: counts[k])
    return {"chance_level": counts[top] / sum(counts), "majority_class": class_names[top],
            "class_counts": {c: int(k) for c, k in zip(class_names, counts)}}


def accuracy_interval(correct: int, n: int) -> dict:
    low, high = wilson(correct, n)
    return {"low": low, "high": high, "method": "wilson", "level": LEVEL}
