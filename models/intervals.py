"""95% intervals for test metrics, and the chance level beside them (numpy, scipy).

Accuracy gets the Wilson score interval for a binomial proportion (its count of correct
subjects out of n). Every other metric gets a percentile bootstrap over subjects: resample b
draws ``rng.integers(0, n, n)`` from ``numpy.random.default_rng(seed)``, one resample after the
other, and computes the metric on those subjects; resamples where a metric is undefined (ROC
AUC with one class drawn) are left out and the count kept says how many were used.
"""

from __future__ import annotations

import numpy as np

from models.metrics import SCORES, scores
from models.proportion import LEVEL, accuracy_interval, chance_of_counts, wilson

__all__ = ["LEVEL", "RESAMPLES", "bootstrap", "chance", "intervals", "percentile_interval", "wilson"]
RESAMPLES = 1000


def bootstrap(y: np.ndarray, prob: np.ndarray, seed: int, resamples: int = RESAMPLES
              ) -> dict[str, list[float]]:
    """{metric: its values over the resamples where it is defined}."""
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {m: [] for m in SCORES if m != "accuracy"}
    for _ in range(resamples):
        idx = rng.integers(0, y.size, y.size)
        for metric, value in scores(y[idx], prob[idx]).items():
            if metric in values and value is not None:
                values[metric].append(value)
    return values


def percentile_interval(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    tail = 100 * (1 - LEVEL) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def intervals(y: np.ndarray, prob: np.ndarray, seed: int, resamples: int = RESAMPLES) -> dict:
    """{metric: {low, high, method, resamples?}} for every metric in SCORES (low/high None
    when a bootstrap metric was never defined)."""
    out = {"accuracy": accuracy_interval(int((prob.argmax(axis=1) == y).sum()), int(y.size))}
    for metric, values in bootstrap(y, prob, seed, resamples).items():
        bounds = percentile_interval(values)
        out[metric] = {"low": None if bounds is None else bounds[0], "high": None if bounds is None else bounds[1],
                       "method": "percentile bootstrap over subjects", "level": LEVEL,
                       "resamples": resamples, "resamples_defined": len(values), "seed": seed}
    return out


def chance(y: np.ndarray, class_names: list[str]) -> dict:
    """The majority class's share of ``y``: the accuracy of always answering it."""
    return chance_of_counts(np.bincount(y, minlength=len(class_names)).tolist(), class_names)
