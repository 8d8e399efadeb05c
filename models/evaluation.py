"""A test set's full report: metrics, their 95% intervals, chance level, class balance; and
the flat ``<prefix>_<metric>``, ``_low``, ``_high`` keys the task listing sorts by (numpy only)."""

from __future__ import annotations

from models.intervals import chance, intervals
from models.metrics import SCORES, checked, classification_metrics


def set_report(y, prob, class_names, subjects, *, seed: int, label: str, loss: float | None = None,
                prefix: str = "test") -> dict:
    """{prefix: detail, and flat keys}: ``detail`` holds classification_metrics, ``intervals``,
    chance_level, majority_class, class_counts, ``evaluated`` (``label``: which weights) and loss.
    Raises ValueError (shapes, no subjects)."""
    y, p = checked(y, prob, len(class_names))
    detail = classification_metrics(y, p, list(class_names), subjects)
    detail.update(intervals=intervals(y, p, seed), evaluated=label, loss=loss, **chance(y, list(class_names)))
    return {prefix: detail, **flat(detail, prefix)}


def flat(detail: dict, prefix: str) -> dict:
    out = {f"{prefix}_n": detail["n"], f"{prefix}_chance_level": detail["chance_level"]}
    if detail.get("loss") is not None:
        out[f"{prefix}_loss"] = detail["loss"]
    for metric in SCORES:
        out[f"{prefix}_{metric}"] = detail[metric]
        bounds = detail["intervals"][metric]
        out[f"{prefix}_{metric}_low"], out[f"{prefix}_{metric}_high"] = bounds["low"], bounds["high"]
    return out
