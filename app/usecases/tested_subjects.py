"""Which subjects a task's stored test predictions are of, and two tasks' predictions lined up
subject by subject when they were tested on the same ones (for models.paired).

A subject is keyed by (dataset checksum, subject id), read from the split the result records
(``splits.checksums``, and each role's ``subjects`` as [dataset, id] pairs): a prediction names
the id, or ``<dataset>/<id>`` where the role's ids were ``prefixed`` (models.datasets.splits). The
test role explains a plain split's predictions, the train role a cross-validated pool's. Two tasks
pair when their predictions cover exactly the same keys; otherwise ``Unpaired`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROLE_ORDER = ("test", "train", "val")
Key = tuple[str, str]  # (dataset checksum, subject id)


@dataclass(frozen=True)
class Unpaired:
    reason: str  # no_predictions, different_dataset, different_subjects
    detail: str


@dataclass(frozen=True)
class Tested:
    task_id: str
    class_names: tuple[str, ...]
    predictions: dict[Key, dict]
    datasets: dict[str, str]  # checksum -> the dataset's name in this task's form

    def described(self) -> str:
        return ", ".join(f"{self.datasets[c]} (checksum {c[:12]})" for c in sorted(self.datasets))


def tested(task_id: str, result: dict | None) -> Tested | Unpaired:
    test = (result or {}).get("test") or {}
    predictions = test.get("predictions") or []
    if not predictions or not test.get("class_names"):
        return Unpaired("no_predictions", f"{task_id} has no per-subject test predictions stored")
    lookup = _subject_keys((result or {}).get("splits") or {})
    keyed = {lookup.get(p.get("subject")): p for p in predictions}
    if None in keyed or len(keyed) != len(predictions):
        return Unpaired("no_predictions", f"{task_id}'s stored predictions name subjects its recorded split "
                                          "does not (a result stored before splits recorded dataset checksums)")
    names = {checksum: name for name, checksum in (result["splits"].get("checksums") or {}).items()}
    return Tested(task_id, tuple(test["class_names"]), keyed, {c: names[c] for c, _ in keyed})


def _subject_keys(splits: dict) -> dict[str, Key]:
    """{the id a prediction names: its key}, from the recorded roles (ROLE_ORDER's first wins)."""
    checksums, roles, out = splits.get("checksums") or {}, splits.get("roles") or {}, {}
    for role in ROLE_ORDER:
        record = roles.get(role) or {}
        for name, subject in record.get("subjects") or []:
            if name in checksums:
                out.setdefault(f"{name}/{subject}" if record.get("prefixed") else subject, (checksums[name], subject))
    return out


@dataclass(frozen=True)
class LinedUp:
    keys: tuple[Key, ...]  # the shared subjects, sorted
    classes: tuple[str, ...]  # a's order, which both tasks' columns and the labels follow
    labels: np.ndarray
    prob_a: np.ndarray
    prob_b: np.ndarray


def lined_up(a: Tested, b: Tested) -> LinedUp | Unpaired:
    """Both tasks' predictions over their shared subjects; Unpaired when the two were not tested
    on exactly the same subjects."""
    if set(a.datasets) != set(b.datasets) or set(a.class_names) != set(b.class_names):
        return Unpaired("different_dataset", f"{a.task_id} was tested on {a.described()}, {b.task_id} on "
                                             f"{b.described()}")
    if a.predictions.keys() != b.predictions.keys():
        common = len(a.predictions.keys() & b.predictions.keys())
        return Unpaired("different_subjects", f"{a.task_id} and {b.task_id} were tested on different subjects "
                                              f"of {a.described()}: {common} in common of {len(a.predictions)} "
                                              f"and {len(b.predictions)}")
    keys = tuple(sorted(a.predictions))
    labels = np.array([a.class_names.index(a.predictions[k]["label"]) for k in keys])
    return LinedUp(keys, a.class_names, labels, _probabilities(a, keys), _probabilities(b, keys, a.class_names))


def _probabilities(t: Tested, keys: tuple[Key, ...], order: tuple[str, ...] | None = None) -> np.ndarray:
    order = order or t.class_names
    return np.array([[t.predictions[k]["probabilities"][c] for c in order] for k in keys], dtype=float)
