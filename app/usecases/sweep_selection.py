"""A sweep's selection record: the task chosen on a validation metric among the sweep's finished
tasks, how many it was chosen from, and its test metrics, reported once (contracts.selection says
why a choice is never made on a test metric)."""

from __future__ import annotations

from typing import Any

from contracts.selection import INNER_CV, TEST_METRICS, VALIDATION, direction, lower_is_better
from contracts.statuses import TaskStatus
from contracts.task_form import cross_validated
from contracts.task_result import with_intervals


class MixedSweep(ValueError):
    """The sweep mixes cross-validated and single-split tasks: their scores are not comparable."""


def score(row: Any) -> float | None:
    """A ``dao.sweep_queries`` row's number for the choice: the metric of its validation split,
    or of a cross-validated task the mean over its folds' validation parts."""
    return row.cv_mean if cross_validated(row.cv_type) else row.flat


def selected_on(rows: list[Any]) -> str:
    """Raises MixedSweep."""
    kinds = {cross_validated(r.cv_type) for r in rows}
    if len(kinds) > 1:
        raise MixedSweep("the sweep mixes cross-validated and single-split tasks: their validation scores are "
                         "not comparable, so none is chosen")
    return INNER_CV if kinds == {True} else VALIDATION


def choose(rows: list[Any], metric: str) -> dict[str, Any]:
    """The record, its ``chosen_test`` left None. ``rows`` oldest first: among equal scores the earliest
    created task is chosen. Raises MixedSweep."""
    on = selected_on(rows)
    sign = 1 if lower_is_better(metric) else -1
    candidates = [(sign * score(r), n, r.id) for n, r in enumerate(rows)
                  if r.status == TaskStatus.SUCCEEDED.value and score(r) is not None]
    return {"metric": metric, "direction": direction(metric), "n_candidates": len(candidates),
            "chosen_task_id": min(candidates)[2] if candidates else None, "chosen_test": None, "selected_on": on}


def reported_test(result: dict[str, Any] | None) -> dict[str, dict[str, float | None]]:
    """Each test metric of ``result`` with its interval's bounds (None where it has none): the
    final weights' (``test_*``) first, then the best checkpoint's (``test_best_*``)."""
    shown = with_intervals(result)
    keys = sorted((k for k in shown if k in TEST_METRICS), key=lambda k: (k.startswith("test_best_"), k))
    return {k: shown[k] for k in keys}
