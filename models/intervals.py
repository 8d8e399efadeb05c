"""95% intervals for test metrics, and the chance level beside them (numpy, scipy).

Accuracy gets the Wilson score interval for a binomial proportion (its count of correct
subjects out of n). Every other metric gets a percentile bootstrap over subjects: resample b
draws ``rng.integers(0, n, n)`` from ``numpy.random.default_rng(seed)``, one resample after the
other, and computes the metric on those subjects; resamples where a metric is undefined (ROC
AUC with one class drawn) are left out and the count kept says how many were used.
"""

from __future__ import annotations

import numpy as np

from models.metrics import batch_scores
from models.proportion import LEVEL, accuracy_interval, chance_of_counts, wilson

__all__ = ["LEVEL", "RESAMPLES", "bootstrap", "chance", "draws", "intervals", "percentile_interval", "wilson"]
RESAMPLES = 1000


def draws(n: int, seed: int, resamples: int = RESAMPLES) -> np.ndarray:
    """(resamples, n) subject indices: each row ``n`` draws with replacement, as the module says."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n, n) for _ in range(resamples)])


def bootstrap(y: np.ndarray, prob: np.ndarray, seed: int, resamples: int = RESAMPLES
              ) -> dict[str, list[float]]:
    """{metric: its values over the resamples where it is defined}."""
    idx = draws(y.size, seed, resamples)
    values = batch_scores(y[idx], prob[idx])
    return {m: v[~np.isnan(v)].tolist() for m, v in values.items() if m != "accuracy"}


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
