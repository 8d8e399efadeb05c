"""What the standard baseline beside a torch evaluation (dl_ev) is fitted on: the evaluated task's
own training subjects, as its result recorded them (``splits.roles.train``), loaded from their
datasets (models.standard_baseline)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dao.tables import Task
from models.datasets.splits import concatenate
from models.datasets.types import ConnectomeDataset
from tasks.stored_datasets import read_dataset


def parent_training(session: Session, task: Task, class_names: tuple[str, ...],
                    loaded: dict[str, ConnectomeDataset]) -> ConnectomeDataset | None:
    """The evaluated task's training subjects, labels in ``class_names`` order; None when it
    recorded none, when a dataset or subject is gone (replaced since), or when its classes differ.
    A dataset in ``loaded`` (read already for the evaluation itself) is not read again."""
    parent = session.get(Task, task.parent_task_id) if task.parent_task_id else None
    roles = (((parent.result if parent else None) or {}).get("splits") or {}).get("roles") or {}
    named: dict[str, list[str]] = {}
    for name, subject in (roles.get("train") or {}).get("subjects") or []:
        named.setdefault(name, []).append(subject)
    try:
        parts = [(name, _subjects_of(loaded.get(name) or read_dataset(session, name), subjects))
                 for name, subjects in named.items()]
        return concatenate(parts, class_names)[0] if parts else None
    except (LookupError, ValueError):
        return None


def _subjects_of(ds: ConnectomeDataset, subjects: list[str]) -> ConnectomeDataset:
    """Raises KeyError for a subject no longer there (the dataset was replaced since)."""
    index = {s: i for i, s in enumerate(ds.subjects)}
    return ds.subset([index[s] for s in subjects])
