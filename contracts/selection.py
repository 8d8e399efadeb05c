"""Choosing one task of a sweep: the metrics a choice may be made on, their direction, and the
warning that goes with any order by a test metric.

Picking the top row of a sweep ordered by a test metric makes the chosen score the largest of N
noisy estimates (the winner's curse): it is biased optimistically, and more so the more
configurations were tried. A sweep's selection record (``GET /api/v0/sweeps/<id>``) chooses on a
validation metric instead (for cross-validated tasks, its mean over the folds' inner validation
parts) and reports the chosen task's test metrics once, with how many tasks it was chosen from.
"""

from __future__ import annotations

from contracts.task_result import METRIC_FIELDS

VALIDATION_METRICS: frozenset[str] = frozenset(
    k for k in METRIC_FIELDS if k.startswith(("final_val_", "best_val_")))
"""What a choice may be made on: the validation metrics of the result (a cross-validated task
records each fold's in ``cv.per_fold`` and their mean in ``cv.mean``)."""
TEST_METRICS: frozenset[str] = frozenset(k for k in METRIC_FIELDS if k.startswith("test_"))
DEFAULT_METRIC = "best_val_loss"
VALIDATION, INNER_CV = "validation", "inner_cv"  # what ``selected_on`` says


def lower_is_better(metric: str) -> bool:
    return metric.endswith("_loss")


def direction(metric: str) -> str:
    """``min`` for a loss, ``max`` for a score."""
    return "min" if lower_is_better(metric) else "max"


def best_first(metric: str) -> str:
    """The listing's sort key that puts the best task first."""
    return metric if lower_is_better(metric) else f"-{metric}"


DEFAULT_SORT = best_first(DEFAULT_METRIC)


def metric_problem(metric: str) -> str | None:
    """Why ``metric`` cannot be chosen on; None when it can."""
    allowed = ", ".join(sorted(VALIDATION_METRICS))
    if metric in TEST_METRICS:
        return (f"{metric!r} is a test metric: the task chosen on it has the best of several noisy test "
                f"estimates, an optimistic one; choose on a validation metric ({allowed})")
    if metric not in VALIDATION_METRICS:
        return f"{metric!r} is not a validation metric; one of {allowed}"
    return None


def sort_warning(sort: str | None) -> str | None:
    """What an order by a test metric must say; None for any other order."""
    key = (sort or "").lstrip("+-")
    if key not in TEST_METRICS:
        return None
    return (f"ordered by the test metric {key}: a task chosen from this order is biased (the top of "
            f"several noisy test estimates looks better than it is); choose on validation instead "
            f"(the sweep's selection record: GET /api/v0/sweeps/<sweep_id>, trainyard sweep) and "
            f"report that task's test score")
