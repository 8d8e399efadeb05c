"""Two tasks tested on the same subjects, compared subject by subject (numpy, scipy, statsmodels;
no framework: the API imports it).

The callers line both tasks' predictions up on the same subjects: ``y`` and each task's (n, C)
probabilities in one order. Accuracy gets McNemar's exact test (statsmodels) on the discordant
subjects, those one task got right and the other wrong. Balanced accuracy and ROC AUC get a
paired bootstrap: the same resamples of subjects (``models.intervals.draws``, seeded) scored for
both tasks with ``models.metrics`` (equal to scikit-learn's, tested; scikit-learn itself is not
in the API's install), the p-value two-sided from where 0 falls among the resampled differences.
Every difference is a − b, with a 95% percentile interval from those resamples (resamples where a
metric is undefined, ROC AUC with one class drawn, are left out). ``holm`` adjusts one metric's
p-values over several pairs (statsmodels).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from models.intervals import draws, percentile_interval
from models.metrics import batch_scores, checked, scores

RESAMPLES = 2000
SEED = 0
METRICS = ("accuracy", "balanced_accuracy", "roc_auc")
MCNEMAR = "McNemar's exact test"
BOOTSTRAP = "paired bootstrap over subjects"


@lru_cache(maxsize=1)  # one comparison's tasks share n; each entry is resamples x n indices
def _draws(n: int, seed: int, resamples: int) -> np.ndarray:
    idx = draws(n, seed, resamples)
    idx.flags.writeable = False
    return idx


def resampled(y, prob, *, seed: int = SEED, resamples: int = RESAMPLES) -> dict[str, np.ndarray]:
    """{metric: its value on each seeded resample of the subjects (NaN where undefined)}. The draws
    depend only on the number of subjects, so two tasks' values on the same subjects pair up and
    a task compared with several others is resampled once."""
    y, p = checked(y, prob, np.shape(prob)[-1])
    idx = _draws(y.size, seed, resamples)
    return batch_scores(y[idx], p[idx])


def paired_tests(y, prob_a, prob_b, *, seed: int = SEED, resamples: int = RESAMPLES,
                 resampled_a: dict | None = None, resampled_b: dict | None = None) -> list[dict]:
    """One entry per metric of METRICS defined for both tasks: metric, n_common, difference (a − b),
    low, high, p_value, method, resamples (those where it was defined), seed. ``resampled_a`` and
    ``_b``: ``resampled`` of each, where the caller kept them.
    Raises ValueError when the shapes disagree or there are no subjects."""
    y, a = checked(y, prob_a, np.shape(prob_a)[-1])
    _, b = checked(y, prob_b, a.shape[1])
    resampled_a = resampled_a or resampled(y, a, seed=seed, resamples=resamples)
    resampled_b = resampled_b or resampled(y, b, seed=seed, resamples=resamples)
    whole_a, whole_b = scores(y, a), scores(y, b)
    out = []
    for metric in METRICS:
        if whole_a[metric] is None or whole_b[metric] is None:
            continue
        diffs = resampled_a[metric] - resampled_b[metric]
        diffs = diffs[~np.isnan(diffs)]
        low, high = percentile_interval(diffs.tolist()) or (None, None)
        exact = metric == "accuracy"
        out.append({"metric": metric, "n_common": int(y.size), "difference": whole_a[metric] - whole_b[metric],
                    "low": low, "high": high, "p_value": _mcnemar(y, a, b) if exact else _bootstrap_p(diffs),
                    "method": MCNEMAR if exact else BOOTSTRAP, "resamples": int(diffs.size), "seed": seed})
    return out


def _mcnemar(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    right_a, right_b = a.argmax(axis=1) == y, b.argmax(axis=1) == y
    table = [[np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
             [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)]]
    return float(mcnemar(table, exact=True).pvalue)


def _bootstrap_p(diffs: np.ndarray) -> float | None:
    """Twice the smaller count of resampled differences on either side of 0 (a 0 counts on both),
    each count + 1 over resamples + 1 as a Monte Carlo p-value is (never 0), at most 1."""
    if diffs.size == 0:
        return None
    tail = min(int((diffs <= 0).sum()), int((diffs >= 0).sum()))
    return min(1.0, 2 * (tail + 1) / (diffs.size + 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of one family of p-values, in their order."""
    return [float(p) for p in multipletests(p_values, method="holm")[1]]
