"""Turning a torch task row into the engine's JobSpec: datasets, splits, parent weights,
checkpoint. ``JobInputs`` (re-exported here) is shared by every backend."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from dao import artifact_queries, dataset_queries, lineage_queries
from dao.tables import Task, TaskArtifact
from models.datasets.lineage import Lineage, lineage_of_splits
from models.datasets.splits import assign_roles
from models.datasets.types import ConnectomeDataset
from models.job import HyperParams, JobSpec, NestedCV
from contracts.param_grid import INNER_FOLDS_DEFAULT, inner_cv_type
from contracts.task_needs import FORM_FIELDS, ROLES, used_roles
from tasks.backends import JobInputs
from tasks.baseline_inputs import parent_training
from tasks.stored_datasets import read_dataset
from tasks.subject_prints import mark_copies

HYPER_FIELDS = tuple(HyperParams.model_fields)  # the param_set keys the engine reads


def hyper_params(param_set: dict[str, Any]) -> HyperParams:
    return HyperParams(**{k: param_set[k] for k in HYPER_FIELDS if param_set.get(k) is not None})


def role_names(form: dict[str, Any]) -> dict[str, list[str]]:
    """Which dataset names feed which role (contracts.task_needs: a role the task type does not read
    gets none)."""
    used = used_roles(form["task_type"], bool(form.get("enable_test")))
    return {r: list(form.get(FORM_FIELDS[r]) or []) if r in used else [] for r in ROLES}


def load_inputs(session: Session, task: Task) -> JobInputs:
    """Raises DatasetNotFound, ValueError (datasets that disagree) or LookupError (no parent
    weights)."""
    form = task.form
    params = hyper_params(form["param_set"])
    roles = role_names(form)
    names = sorted({n for group in roles.values() for n in group})
    datasets = {n: read_dataset(session, n) for n in names}
    sums = checksums(session, names)
    cv = cv_settings(form)
    lineage = ancestry(session, task)
    if cv is not None:
        parts, folds, record = _cv_parts(datasets, sums, params.seed, *cv, split_by=form.get("split_by"))
    else:
        folds = None
        parts, record = assign_roles(roles, datasets, seed=params.seed, checksums=sums,
                                     lineage=lineage, allow_seen_test=bool(form.get("allow_seen_test")),
                                     split_by=form.get("split_by"))
    if form.get("allow_seen_test"):  # the result is marked when it tests on copies of fitted subjects
        mark_copies(session, datasets, record, sums, task.parent_task_id, lineage)
    checkpoint = artifact_queries.get_artifact(session, task.id, artifact_queries.CHECKPOINT)
    spec = JobSpec(
        task_type=task.task_type, model=task.model, params=params,
        train=parts.get("train"), val=parts.get("val"), test=parts.get("test"),
        init_weights=parent_weights(session, task), folds=folds,
        n_permutations=int(form.get("n_permutations") or 0), with_baseline=not form.get("skip_baseline"),
        baseline_train=_evaluated_training(session, task, parts.get("test"), datasets),
        nested=nested_settings(form, params),
    )
    with ExitStack() as files:  # open until the runner closes them; a failure here closes them now
        spec = replace(spec, resume_checkpoint=open_artifact(files, checkpoint))
        return JobInputs(spec, record, None if checkpoint is None else checkpoint.epoch, files.pop_all())


def open_artifact(files: ExitStack, row: TaskArtifact | None) -> BinaryIO | None:
    """The artifact's bytes as a seekable local file (``artifact_queries.local_file``) that stays
    open, for the engine to read in place, until ``files`` closes; None without a row."""
    return None if row is None else files.enter_context(artifact_queries.local_file(row))


def cv_settings(form: dict[str, Any]) -> tuple[str, int, int] | None:
    """(cv_type, n_folds, repeats) of a cross-validated form; None for a single split."""
    cv_type = (form.get("cv_type") or "none").lower()
    if cv_type == "none":
        return None
    return cv_type, int(form.get("n_folds") or 5), int(form.get("cv_repeats") or 1)


def nested_settings(form: dict[str, Any], params: HyperParams) -> NestedCV | None:
    """The nested cross-validation a cross-validated form's ``param_grid`` asks for (values as
    HyperParams reads them); None without one."""
    cv, grid = cv_settings(form), form.get("param_grid")
    if cv is None or not grid:
        return None
    from models.nested_cv import with_config  # scikit-learn's splitters: loaded when a task needs them

    typed = {k: [getattr(with_config(params, {k: v}), k) for v in values] for k, values in grid.items()}
    return NestedCV(typed, int(form.get("inner_folds") or INNER_FOLDS_DEFAULT), inner_cv_type(cv[0]),
                    by_groups=form.get("split_by") != "subjects")


def _cv_parts(datasets: dict[str, ConnectomeDataset], sums: dict[str, str], seed: int, cv_type: str,
              n_folds: int, repeats: int, split_by: str | None = None) -> tuple[dict, tuple, dict]:
    """Every named dataset pooled (each once), its folds (of whole groups unless ``split_by`` is
    "subjects"), and the record: the pool as the "train" role, ``cv`` (which subject, and group,
    went where in each fold) and a lineage in which every subject (and group) was both trained
    and tested on (each was, in some fold)."""
    from models.cv import fold_record, make_folds

    parts, record = assign_roles({"train": sorted(datasets)}, datasets, seed=seed, checksums=sums,
                                 split_by=split_by)
    pool = parts["train"]
    folds = make_folds(pool, cv_type, n_folds, repeats, seed, by_groups=split_by != "subjects")
    record["cv"] = fold_record(folds, pool.subjects, cv_type, n_folds, repeats, seed,
                               None if split_by == "subjects" else pool.groups)
    if "split_by" in record:
        record["groups_mixed"] = record["split_by"] == "subjects"
    for roles in [*record["lineage"].values(), *record.get("lineage_groups", {}).values()]:
        roles["test"] = list(roles["train"])
    data = tuple((pool.subset(f.train), pool.subset(f.val), pool.subset(f.test)) for f in folds)
    return {"train": pool, "val": None, "test": None}, data, record


def _evaluated_training(session: Session, task: Task, test: ConnectomeDataset | None,
                        loaded: dict[str, ConnectomeDataset]) -> ConnectomeDataset | None:
    """A dl_ev's standard baseline is fitted on what the evaluated task trained on (``loaded``:
    the datasets this task already read, not read again)."""
    if task.task_type != "dl_ev" or test is None or task.form.get("skip_baseline"):
        return None
    return parent_training(session, task, test.class_names, loaded)


def checksums(session: Session, names: list[str]) -> dict[str, str]:
    """{dataset name: content checksum}: what lineage keys subjects by."""
    return {name: row.checksum for name, row in dataset_queries.find_datasets(session, names).items()}


def ancestry(session: Session, task: Task) -> Lineage:
    """What the task's ancestors trained, validated and tested on."""
    return lineage_of_splits(lineage_queries.ancestor_splits(session, task.parent_task_id))


def parent_weights(session: Session, task: Task) -> bytes | None:
    """The parent task's stored weights; None without a parent. Raises LookupError when the
    parent stored none."""
    row = parent_artifact(session, task)
    return None if row is None else artifact_queries.data(row)


def parent_artifact(session: Session, task: Task) -> TaskArtifact | None:
    """The artifact row of the parent task's weights; None without a parent. Raises LookupError
    when the parent stored none."""
    if task.parent_task_id is None:
        return None
    row = artifact_queries.get_artifact(session, task.parent_task_id, artifact_queries.WEIGHTS)
    if row is None:
        raise LookupError(f"parent task {task.parent_task_id} has no stored weights")
    return row
