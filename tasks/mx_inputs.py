"""Turning an MXNet task row into the engine's MxJobSpec: image datasets by role (split where
one dataset serves several roles), parent weights, this task's last checkpoint.

Imports numpy and the numpy-only modules of ``models.mxnet_backend`` (no mxnet until the engine
runs, never torch).
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from sqlalchemy.orm import Session

from dao import artifact_queries, dataset_queries
from dao.tables import Task, TaskArtifact
from contracts.statuses import DatasetStatus
from models.datasets.lineage import Seen, lineage_record, seen_in_test
from models.datasets.splits import DEFAULT_FRACTIONS, split_among
from contracts.catalog import find_model
from models.mxnet_backend.detection_data import DETECTION_DATASET_KIND, DetectionDataset, concatenate_detection
from models.mxnet_backend.detector_spec import DetectionJobSpec
from models.mxnet_backend.images import IMAGE_DATASET_KIND, ImageDataset
from models.mxnet_backend.spec import MxJobSpec, MxTrainParams
from tasks.backends import JobInputs
from tasks.job_inputs import ancestry, checksums, open_artifact, parent_artifact, role_names

PARAM_FIELDS = tuple(MxTrainParams.model_fields)


def train_params(param_set: dict[str, Any]) -> MxTrainParams:
    """MxTrainParams from a stored param_set (absent fields take the engine's defaults; an
    evaluation's param_set has no num_epoch, which it does not use)."""
    given = {k: param_set[k] for k in PARAM_FIELDS if param_set.get(k) is not None}
    return MxTrainParams(**{"num_epoch": 1, **given})


def _shape(param_set: dict[str, Any], key: str) -> tuple[int, ...] | None:
    """MXServer's ``data_shape`` (C, H, W) or ``img_shapes`` (H, W), as the API stored them."""
    value = param_set.get(key)
    return None if value is None else tuple(int(v) for v in value)


def _kept_checkpoint(session: Session, task_id: str, epoch: int) -> TaskArtifact:
    """The checkpoint a task kept at ``epoch``. Raises LookupError (deleted since the API checked)."""
    row = artifact_queries.get_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(epoch))
    if row is None:
        raise LookupError(f"task {task_id} has no kept checkpoint of epoch {epoch}")
    return row


Rows = tuple[TaskArtifact | None, TaskArtifact | None]


def _starting_weights(session: Session, task: Task, own: TaskArtifact | None) -> Rows:
    """(init_weights, resume_checkpoint) rows: this task's own last checkpoint resumes it; else an
    MXServer resume_config continues another task's kept checkpoint; an evaluation by epoch
    uses that kept checkpoint; otherwise the parent's final weights."""
    ps = task.form["param_set"]
    if ps.get("resume_from"):
        source = _kept_checkpoint(session, ps["resume_from"]["task_id"], ps["resume_from"]["epoch"])
        return source, own or source
    if task.task_type == "dl_ev" and ps.get("checkpoint_epoch"):
        return _kept_checkpoint(session, task.parent_task_id, ps["checkpoint_epoch"]), None
    return parent_artifact(session, task), own


def _open_starting(files: ExitStack, rows: Rows) -> tuple[BinaryIO | None, BinaryIO | None]:
    """The local files of (init_weights, resume_checkpoint), open until ``files`` closes; one
    file when both are the same checkpoint."""
    init = open_artifact(files, rows[0])
    return init, init if rows[1] is rows[0] else open_artifact(files, rows[1])


def _load_dataset(session: Session, name: str, detection: bool) -> ImageDataset | DetectionDataset:
    """Raises DatasetNotFound, or ValueError when it is not a READY dataset of the task's kind."""
    kind, stored = (DETECTION_DATASET_KIND, DetectionDataset) if detection else (IMAGE_DATASET_KIND, ImageDataset)
    row = dataset_queries.get_dataset(session, name)
    if row.kind != kind or row.status != DatasetStatus.READY.value:
        raise ValueError(f"dataset {name!r} is a {row.status} {row.kind} dataset, not a READY {kind} dataset")
    with dataset_queries.local_file(session, name) as fh:
        return stored.from_npz(fh)


@dataclass(frozen=True)
class _Strata:
    """What a detection dataset's split is stratified by: each image's first box's class, an
    image with no box a stratum of its own (split_among wants ``labels``, ``n_classes`` and
    ``subset``)."""

    labels: np.ndarray
    n_classes: int

    @classmethod
    def of(cls, ds: DetectionDataset) -> "_Strata":
        first = [int(b[0, 0]) if len(b) else ds.n_classes for b in ds.all_boxes()]
        return cls(np.array(first, dtype=np.int64), ds.n_classes + 1)

    @property
    def n_images(self) -> int:
        return int(self.labels.size)

    def subset(self, indices) -> "_Strata":
        return _Strata(self.labels[np.asarray(indices, dtype=np.int64)], self.n_classes)


def _rng(seed: int, name: str) -> np.random.Generator:
    tag = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng([seed % 2**64, tag])


def _pieces(roles: dict[str, list[str]], data: dict[str, ImageDataset | _Strata], seed: int,
            seen: dict[str, Seen | None]
            ) -> tuple[dict[str, list[tuple[str, np.ndarray]]], dict[str, list[str]]]:
    """Each role's (dataset name, image indices): a dataset named in several roles split
    (stratified, seeded) among them by DEFAULT_FRACTIONS, one its ancestors used (``seen``) by
    the lineage rule (models.datasets.splits.split_among); and which roles shared each split."""
    pieces: dict[str, list[tuple[str, np.ndarray]]] = {r: [] for r in roles}
    shared: dict[str, list[str]] = {}
    for name, ds in data.items():
        users = [r for r in roles if name in roles[r]]
        if len(users) > 1:
            shared[name] = users
        ids = [str(i) for i in range(ds.n_images)]
        for role, idx in zip(users, split_among(ds, ids, users, DEFAULT_FRACTIONS, _rng(seed, name), seen.get(name))):
            if len(idx) == 0:
                raise ValueError(f"dataset {name!r}: no image is left for {role!r} once the images this "
                                 f"task's ancestors trained, validated or tested on are held apart")
            pieces[role].append((name, idx))
    return pieces, shared


def _joined(parts: list[ImageDataset | DetectionDataset]) -> ImageDataset | DetectionDataset | None:
    """One dataset from several of the same classes and image shape (the API checked that)."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], DetectionDataset):
        return concatenate_detection(parts)
    return ImageDataset(np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]),
                        parts[0].class_names)


def is_detection(task: Task) -> bool:
    """A detector's task (its network's catalog entry says so)."""
    info = find_model(task.model)
    return info is not None and info.input == "detection"


def _spec(task: Task, params: MxTrainParams, joined: dict, device: str, init: BinaryIO | None,
          resume: BinaryIO | None) -> MxJobSpec | DetectionJobSpec:
    ps = task.form["param_set"]
    roles = dict(train=joined["train"], val=joined["val"], test=joined["test"])
    if is_detection(task):
        shape = _shape(ps, "data_shape")
        return DetectionJobSpec(task_type=task.task_type, network=task.model, params=params, device=device, init_weights=init,
                    resume_checkpoint=resume, data_shape=None if shape is None else tuple(shape[1:]), **roles)
    return MxJobSpec(task_type=task.task_type, network=task.model, params=params, device=device,
                     init_weights=init, resume_checkpoint=resume, with_baseline=not task.form.get("skip_baseline"),
                     data_shape=_shape(ps, "data_shape"), eval_size=_shape(ps, "img_shapes"), **roles)


def load_mx_inputs(session: Session, task: Task, device: str) -> JobInputs:
    """Raises DatasetNotFound, ValueError (a dataset not READY / not images), LookupError (the
    parent stored no weights), DatasetImportError (a stored blob that does not load)."""
    form = task.form
    params = train_params(form["param_set"])
    roles = role_names(form)
    names = sorted({n for group in roles.values() for n in group})
    detection = is_detection(task)
    data = {n: _load_dataset(session, n, detection) for n in names}
    sums, lineage = checksums(session, names), ancestry(session, task)
    allow = bool(form.get("allow_seen_test"))
    seen = {} if allow else {n: lineage.get(sums[n]) for n in names}
    strata = {n: _Strata.of(d) for n, d in data.items()} if detection else data
    pieces, shared = _pieces(roles, strata, params.seed, seen)
    joined = {role: _joined([data[n].subset(idx) for n, idx in parts]) for role, parts in pieces.items()}
    checkpoint = artifact_queries.get_artifact(session, task.id, artifact_queries.CHECKPOINT)
    starting = _starting_weights(session, task, checkpoint)
    record = {"seed": params.seed, "split": shared,
              "sizes": {r: (0 if d is None else d.n_images) for r, d in joined.items()},
              "checksums": {n: sums[n] for n in names},
              "lineage": lineage_record((sums[n], r, [str(i) for i in idx])
                                        for r, parts in pieces.items() for n, idx in parts),
              "inherited": {n: s.tasks() for n, s in seen.items() if s is not None}}
    if allow:
        record["seen_in_test"] = seen_in_test(((sums[n], [str(i) for i in idx]) for n, idx in pieces["test"]),
                                              lineage)
    resumed = form["param_set"].get("resume_from") or {}
    epoch = checkpoint.epoch if checkpoint is not None else resumed.get("epoch")
    with ExitStack() as files:  # open until the runner closes them; a failure here closes them now
        spec = _spec(task, params, joined, device, *_open_starting(files, starting))
        return JobInputs(spec, record, epoch, files.pop_all())
