"""GET /api/v0/compare's answer: each task's metrics with their own 95% intervals, and for every
pair of tasks either its paired tests (models.paired, on the subjects both were tested on) or why
it cannot have them (app.usecases.tested_subjects). With two or more pairable pairs each metric's p-values
are Holm-adjusted over those pairs (``p_value_holm``)."""

from __future__ import annotations

from itertools import combinations

from app.usecases.tested_subjects import LinedUp, Tested, Unpaired, lined_up, tested
from contracts.task_result import with_intervals
from models.paired import holm, paired_tests, resampled


def comparison(tasks: list[dict]) -> dict:
    """``tasks``: task_id, task_name, model, status and the stored result of each, in order."""
    sets = [(t["task_id"], tested(t["task_id"], t["result"])) for t in tasks]
    kept: dict = {}  # (task id, subjects, class order) -> its resampled scores: once per task, not per pair
    pairs = [_pair(*a, *b, kept) for a, b in combinations(sets, 2)]
    pairable = sum(p["pairable"] for p in pairs)
    corrected = pairable >= 2
    if corrected:
        _adjust_by_metric([r for p in pairs for r in p["paired"] if r["p_value"] is not None])
    return {"tasks": [_task(t) for t in tasks], "pairs": pairs,
            "correction": "holm" if corrected else None,
            "correction_note": f"Holm's correction over the {pairable} pairable pairs, each metric apart"
                               if corrected else None}


def _adjust_by_metric(rows: list[dict]) -> None:
    """Each row's ``p_value_holm``: Holm's adjustment among the rows of its metric."""
    for metric in dict.fromkeys(r["metric"] for r in rows):
        same = [r for r in rows if r["metric"] == metric]
        for row, adjusted in zip(same, holm([r["p_value"] for r in same])):
            row["p_value_holm"] = adjusted


def _task(task: dict) -> dict:
    return {"task_id": task["task_id"], "task_name": task["task_name"], "model": task["model"],
            "status": task["status"], "metrics": with_intervals(task["result"])}


def _pair(a_id: str, a: Tested | Unpaired, b_id: str, b: Tested | Unpaired, kept: dict) -> dict:
    ids = {"a": a_id, "b": b_id}
    both = next((x for x in (a, b) if isinstance(x, Unpaired)), None) or lined_up(a, b)
    if isinstance(both, Unpaired):
        return {**ids, "pairable": False, "n_common": None, "reason": both.reason, "detail": both.detail,
                "paired": []}
    rows = paired_tests(both.labels, both.prob_a, both.prob_b, resampled_a=_kept(kept, a_id, both, both.prob_a),
                        resampled_b=_kept(kept, b_id, both, both.prob_b))
    return {**ids, "pairable": True, "n_common": len(both.keys), "reason": None, "detail": None,
            "paired": [{**row, "metric": f"test_{row['metric']}", "p_value_holm": None} for row in rows]}


def _kept(kept: dict, task_id: str, both: LinedUp, prob) -> dict:  # noqa: ANN001
    key = (task_id, both.keys, both.classes)
    if key not in kept:
        kept[key] = resampled(both.labels, prob)
    return kept[key]
