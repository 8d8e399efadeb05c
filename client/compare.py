"""Tasks side by side: their hyper-parameters and their metrics with 95% intervals, each row
marked where the tasks differ (and, for a metric, whether their intervals are disjoint); and the
paired tests of every two tasks tested on the same subjects (GET /api/v0/compare), the right test
there, where overlapping intervals are not."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SETTINGS = ("model", "task_type", "train_data", "val_data", "test_data", "parent_task_id", "sweep_id")
METRICS = ("test_accuracy", "test_balanced_accuracy", "test_sensitivity", "test_specificity", "test_precision",
           "test_f1", "test_roc_auc", "test_loss", "test_best_accuracy", "test_best_roc_auc", "best_val_loss",
           "best_val_accuracy", "final_val_loss", "final_val_accuracy", "best_epoch", "epochs_done",
           "baseline_test_accuracy", "baseline_test_balanced_accuracy", "baseline_test_roc_auc",
           "baseline_accuracy_difference")


@dataclass
class Row:
    section: str  # "setting", "param_set", "metric", "context"
    name: str
    values: list[Any]
    intervals: list[list[float] | None] = field(default_factory=list)
    differs: bool = False
    disjoint: bool = False  # some two tasks' intervals do not overlap

    def as_dict(self) -> dict:
        return asdict(self)


def _interval(metrics: dict, key: str) -> list[float] | None:
    low, high = metrics.get(f"{key}_low"), metrics.get(f"{key}_high")
    return [low, high] if isinstance(low, (int, float)) and isinstance(high, (int, float)) else None


def _any_disjoint(intervals: list[list[float] | None]) -> bool:
    known = [i for i in intervals if i is not None]
    return any(a[1] < b[0] or b[1] < a[0] for n, a in enumerate(known) for b in known[n + 1:])


def _row(section: str, name: str, values: list[Any], intervals: list | None = None) -> Row:
    intervals = intervals or []
    differs = len({repr(v) for v in values}) > 1
    return Row(section, name, values, intervals, differs, differs and _any_disjoint(intervals))


def _context(task: dict) -> dict[str, Any]:
    result = task.get("result") or {}
    test = result.get("test") or {}
    roles = (result.get("splits") or {}).get("roles") or {}
    return {"status": task.get("status"), "test_subjects": (roles.get("test") or {}).get("n_subjects", test.get("n")),
            "chance_level": test.get("chance_level"), "test_on_seen_subjects": task.get("test_on_seen_subjects")}


def comparison(tasks: list[dict]) -> list[Row]:
    """The rows of a comparison of the full views of ``tasks`` (Client.compare)."""
    rows = [_row("setting", k, [t.get(k) for t in tasks]) for k in SETTINGS
            if any(t.get(k) not in (None, [], "") for t in tasks)]
    params = [t.get("param_set") or {} for t in tasks]
    keys = sorted({k for p in params for k in p})
    rows += [_row("param_set", k, [p.get(k) for p in params]) for k in keys]
    contexts = [_context(t) for t in tasks]
    rows += [_row("context", k, [c[k] for c in contexts]) for k in contexts[0]] if contexts else []
    metrics = [t.get("metrics") or {} for t in tasks]
    for key in METRICS:
        if any(key in m for m in metrics):
            rows.append(_row("metric", key, [m.get(key) for m in metrics], [_interval(m, key) for m in metrics]))
    return rows


def cell(value: Any, interval: list[float] | None = None) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}" if interval is None else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
    elif isinstance(value, list):
        text = ",".join(map(str, value))
    else:
        text = "-" if value is None else str(value)
    return text


def mark(row: Row) -> str:
    """``*`` the tasks differ; for a metric ``!`` when two of its intervals are disjoint (a
    difference the test sets support), ``~`` when they differ within overlapping intervals."""
    if not row.differs:
        return ""
    if row.section != "metric" or not any(row.intervals):
        return "*"
    return "!" if row.disjoint else "~"


PAIRED_COLUMNS = ["pair", "metric", "a - b [95% interval]", "p", "p (Holm)", "test"]


def paired_rows(reply: dict) -> list[list[str]]:
    """Rows under PAIRED_COLUMNS: each paired test of a pair tested on the same subjects, and for
    every other pair why it has none."""
    rows = []
    for pair in reply["pairs"]:
        name = f"{pair['a']} vs {pair['b']}"
        if not pair["pairable"]:
            rows.append([name, "-", f"not pairable ({pair['reason']}): {pair['detail']}", "", "", ""])
        for t in pair["paired"]:
            rows.append([name, t["metric"], _difference(t), _p(t["p_value"]), _p(t["p_value_holm"]), _test(t)])
    return rows


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _difference(test: dict) -> str:
    """A paired test's difference with its 95% interval."""
    return cell(test["difference"], None if test["low"] is None else [test["low"], test["high"]])


def _test(test: dict) -> str:
    return f"{test['method']}, n={test['n_common']}"


BASELINE_COLUMNS = ["task", "metric", "task - baseline [95% interval]", "p", "test", "baseline"]


def baseline_rows(tasks: list[dict]) -> list[list[str]]:
    """Rows under BASELINE_COLUMNS: each task's paired tests against the standard baseline fitted
    and tested on its own split (the result's ``standard_baseline``), or why it has none."""
    rows = []
    for task in tasks:
        record = (task.get("result") or {}).get("standard_baseline")
        if not record:
            continue
        if "skipped" in record:
            rows.append([task["task_id"], "-", f"no baseline: {record['skipped']}", "", "", ""])
            continue
        for t in record["paired"]:
            rows.append([task["task_id"], t["metric"], _difference(t), _p(t["p_value"]), _test(t),
                         f"{record['model']} ({record['seconds']:.2g} s)"])
    return rows
