"""MXServer's nested request (``app.schemas.mxserver_desc``) → trainyard's flat /train or /eval
request, with the database look-ups the mapping needs: which dataset each ``file_url`` or
``img_list`` entry names, which task a checkpoint ``prefix`` names and whether that epoch's
checkpoint is stored. Every look-up sees only what the caller may see: another project's task
or dataset reads as one that does not exist.

``Translated.fields`` maps each flat field back to MXServer's path, so every problem found later
(by the flat schema or the dataset checks) is reported under the name the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from webcommon.principal import visible_projects
from app.auth.submit import visible_task
from app.schemas.mxserver_desc import INIT_PARAM, Checkpoint, TestDesc, TrainDesc
from contracts.catalog import find_model, image_shape_problems
from dao import artifact_queries, dataset_queries, task_queries
from dao.tables import Task

Problems = list[tuple[str, str]]
DATA = "train_param.data_param"
RESUME = "train_param.resume_config"


@dataclass
class Translated:
    flat: dict[str, Any]  # the flat TrainRequest / EvalRequest body
    extra: dict[str, Any]  # param_set fields the flat request has no name for
    fields: dict[str, str]  # flat field → MXServer's path
    problems: Problems = field(default_factory=list)
    parent: Task | None = None  # the task whose checkpoint is resumed or evaluated
    desc: TrainDesc | TestDesc | None = None  # MXServer's request, when it sent its own shape
    network: Any = None  # the ModelInfo, once checked
    parent_missing: bool = False  # a checkpoint was named but not found (already a problem)

    def rename(self, problems: Problems, prefix: str = "") -> Problems:
        return [(prefix + _renamed(f, self.fields), p) for f, p in problems]


def _renamed(flat: str, fields: dict[str, str]) -> str:
    for key in sorted(fields, key=len, reverse=True):
        if flat == key or flat.startswith((key + ".", key + "[")):
            rest = flat[len(key):]
            target = fields[key]
            return target if rest.startswith("[") and target.endswith("]") else target + rest
    return flat


def _dataset(session: Session, value: str | None, path: str, problems: Problems) -> str | None:
    """The image or detection dataset a file name or dataset name refers to."""
    if value is None or not value.strip():
        return None
    names = dataset_queries.find_by_file(session, value.strip(), visible_projects())
    if len(names) == 1:
        return names[0]
    problems.append((path, f"{value!r} names no dataset or uploaded file here; upload it first "
                           f"(POST /api/v0/datasets, kind=image or detection) and name the upload or its file" if not names
                     else f"{value!r} is a file of several uploads ({', '.join(names)}); name the dataset"))
    return None


def _pair(session: Session, url, role: str, ftype: str, problems: Problems) -> tuple[str | None, str]:  # noqa: ANN001
    """The dataset of one role's files (rec + idx, or img + lst): both must name the same one."""
    main, side = (f"{role}_rec", f"{role}_idx") if ftype == "rec" else (f"{role}_img_path", f"{role}_lst_path")
    path = f"{DATA}.file_url."
    name = _dataset(session, getattr(url, main), path + main, problems)
    other = getattr(url, side)
    if name is not None and other and other.strip():
        found = _dataset(session, other, path + side, problems)
        if found is not None and found != name:
            problems.append((path + side, f"{other!r} belongs to dataset {found!r}, not to {name!r} named by {main}"))
    return name, path + main


def _kept(session: Session, task_id: str, epoch: int) -> bool:
    kind = artifact_queries.epoch_checkpoint_kind(epoch)
    return artifact_queries.get_artifact(session, task_id, kind, with_data=False) is not None


def find_checkpoint(session: Session, ckp: Checkpoint, path: str, problems: Problems) -> Task | None:
    """The MXNet task a checkpoint names when it kept the checkpoint of ``ckp.epoch``: the task
    of that id, else the newest task trained with that ``save_prefix`` that kept that epoch."""
    if ckp.prefix is None or ckp.epoch is None:
        problems += [(f"{path}.{k}", "is required") for k in ("prefix", "epoch") if getattr(ckp, k) is None]
        return None
    task = visible_task(session, ckp.prefix)
    ids = [task.id] if task is not None else task_queries.with_save_prefix(session, ckp.prefix, visible_projects())
    if not ids or (task is not None and task.backend != "mxnet"):
        problems.append((f"{path}.prefix", f"{ckp.prefix!r} is neither an MXNet task id nor a save_prefix "
                                           f"a training used"))
        return None
    found = next((i for i in ids if _kept(session, i, ckp.epoch)), None)
    if found is None:
        kept = [r.epoch for r in artifact_queries.epoch_checkpoints(session, ids[0])]
        problems.append((f"{path}.epoch", f"task {ids[0]} kept no checkpoint of epoch {ckp.epoch}; "
                                          f"it kept epochs {kept}"))
        return None
    return session.get(Task, found)


def _schedule(desc: TrainDesc, problems: Problems) -> dict[str, Any]:
    s = desc.train_param.lr_scheduler
    c = s.lr_scheduler_config
    path = "train_param.lr_scheduler.lr_scheduler_config"
    out = {"lr_factor": c.factor, "stop_factor_lr": c.stop_factor_lr}
    if s.type == "Factor":
        if c.step is None and c.factor != 1.0:
            problems.append((f"{path}.step", "is required for a Factor schedule"))
        return out | {"lr_step_updates": c.step or 0}
    if not c.steps or list(c.steps) != sorted(set(c.steps)) or c.steps[0] < 1:
        problems.append((f"{path}.steps", "a MultiFactor schedule needs increasing update counts ≥ 1"))
    return out | {"lr_steps_updates": list(c.steps or [])}


def _resume(session: Session, desc: TrainDesc, network: str, problems: Problems) -> tuple[Task | None, dict]:
    tp = desc.train_param
    if tp.resume_config.is_resume == "1":
        if tp.begin_epoch:
            problems.append(("train_param.begin_epoch", "a training starts at epoch 0 unless it resumes "
                                                        "(resume_config.is_resume \"0\")"))
        return None, {}
    source = find_checkpoint(session, tp.resume_config.ckp, f"{RESUME}.ckp", problems)
    if source is None:
        return None, {}
    epoch = tp.resume_config.ckp.epoch
    if source.model != network:
        problems.append((f"{RESUME}.ckp.prefix", f"task {source.id} trained {source.model}, net.name asks for {network}"))
    if tp.begin_epoch not in (0, epoch):
        problems.append(("train_param.begin_epoch", f"must be 0 or the resumed epoch {epoch}"))
    if tp.num_epoch <= epoch:
        problems.append(("train_param.num_epoch", f"must exceed the resumed epoch {epoch}"))
    return source, {"resume_from": {"task_id": source.id, "epoch": epoch}}


def translate_train(session: Session, desc: TrainDesc) -> Translated:
    tp, dp = desc.train_param, desc.train_param.data_param
    problems: Problems = []
    train, train_path = _pair(session, dp.file_url, "train", dp.ftype, problems)
    val, val_path = _pair(session, dp.file_url, "val", dp.ftype, problems)
    if train is None and not any(f.startswith(f"{DATA}.file_url.train") for f, _ in problems):
        problems.append((train_path, "is required: the training data"))
    if tp.label_param.shapes != [1]:
        problems.append(("train_param.label_param.shapes", "must be [\"1\"]: one class label per image"))
    init = tp.initializer
    extra = _schedule(desc, problems) | {
        "save_prefix": tp.save_prefix, "shuffle": dp.shuffle == "0",
        "init_param": getattr(init.init_config, INIT_PARAM[init.type]),
    }
    if dp.shapes is not None:  # the MXNet worker fits the images to it (its input_fitting)
        extra["data_shape"] = list(dp.shapes)
    parent, resumed = _resume(session, desc, desc.net.name, problems)
    opt = tp.optimizer.opt_config
    flat = {"network": desc.net.name, "target": desc.target,
            "train_data": [train] if train else [], "val_data": [val] if val else [],
            "num_epoch": tp.num_epoch, "batch_size": dp.batch_size, "base_lr": opt.base_lr, "wd": opt.wd,
            "momentum": opt.momentum, "initializer": init.type, "save_period": tp.save_period,
            "trained_task_id": None if parent is None else parent.id}
    if desc.context is not None:
        flat["context"] = [d.model_dump() for d in desc.context]
    fields = {"network": "net.name", "target": "target", "train_data": train_path, "val_data": val_path,
              "num_epoch": "train_param.num_epoch", "batch_size": f"{DATA}.batch_size",
              "base_lr": "train_param.optimizer.opt_config.base_lr", "wd": "train_param.optimizer.opt_config.wd",
              "momentum": "train_param.optimizer.opt_config.momentum", "initializer": "train_param.initializer.type",
              "save_period": "train_param.save_period", "trained_task_id": f"{RESUME}.ckp.prefix"}
    missing = tp.resume_config.is_resume == "0" and parent is None
    if missing:
        flat["trained_task_id"] = None
    return Translated(flat, extra | resumed, fields, problems, parent, desc, parent_missing=missing)


def translate_test(session: Session, desc: TestDesc) -> Translated:
    tp, cfg = desc.test_param, desc.test_param.test_img_config
    problems: Problems = []
    base = "test_param.test_img_config.img_list"
    names = [_dataset(session, v, f"{base}[{i}]", problems) for i, v in enumerate(cfg.img_list)]
    parent = find_checkpoint(session, tp.ckp, "test_param.ckp", problems)
    if parent is not None and parent.model != desc.net.name:
        problems.append(("net.name", f"the checkpoint's task {parent.id} trained {parent.model}, not {desc.net.name}"))
    flat = {"trained_task_id": parent.id if parent else (tp.ckp.prefix or "?")[:40], "test_data": [n for n in names if n],
            "batch_size": tp.batch_size}
    if desc.context is not None:
        flat["context"] = [d.model_dump() for d in desc.context]
    fields = {"trained_task_id": "test_param.ckp.prefix", "test_data": base, "batch_size": "test_param.batch_size"}
    extra = {"checkpoint_epoch": tp.ckp.epoch}
    if cfg.img_shapes is not None:
        extra["img_shapes"] = list(cfg.img_shapes)
    return Translated(flat, extra, fields, problems, parent, desc, parent_missing=parent is None)


def shape_problems(desc: TrainDesc | TestDesc, shape: dict[str, Any], parent: Task | None = None) -> Problems:
    """``classes``, ``net.config.num_classes`` and the asked image shapes against the data's
    ({classes, image_shape: [H, W, C]}) and the network (and ``parent``'s model, evaluated or
    resumed). A shape other than the data's is fitted by the MXNet worker as MXNet's ImageIter
    fits it; refused only where MXNet, or the network, could not take it."""
    classes = shape.get("classes") or []
    problems: Problems = []
    if desc.classes is not None:
        given = [desc.classes[k] for k in sorted(desc.classes, key=lambda k: (len(k), k))]
        if given != classes:
            problems.append(("classes", f"the data's classes are {classes} (index order), not {given}"))
    n = desc.net.config.num_classes
    if n is not None and classes and n != len(classes):
        problems.append(("net.config.num_classes", f"the data has {len(classes)} classes, not {n}"))
    asked = _asked_shape(desc, shape, parent)
    if asked is not None:
        problems += [(asked[0], p) for p in _fitting_problems(desc.net.name, asked[1], parent)]
        if isinstance(desc, TestDesc):
            problems += [(asked[0], p) for p in _detector_evaluation_problems(desc.net.name, asked[1], parent)]
    return problems


def _detector_evaluation_problems(network: str, chw: list[int], parent: Task | None) -> list[str]:
    """A detector is evaluated at the size it was trained at (its anchors are laid out for it)."""
    model, trained = find_model(network), _parent_shape(parent)
    if model is None or model.input != "detection" or not trained or chw[1:] == trained[:2]:
        return []
    return [f"a detector is evaluated at the size it was trained at, {trained[0]}×{trained[1]}, not {chw[1]}×{chw[2]}"]


def _asked_shape(desc: TrainDesc | TestDesc, shape: dict[str, Any], parent: Task | None
                 ) -> tuple[str, list[int]] | None:
    """(field, [C, H, W]) the request asks the images be fitted to; /eval's ``img_shapes``
    [H, W] take the channels of the evaluated model (else the data's)."""
    if isinstance(desc, TrainDesc):
        shapes = desc.train_param.data_param.shapes
        return None if shapes is None else (f"{DATA}.shapes", list(shapes))
    size = desc.test_param.test_img_config.img_shapes
    if size is None:
        return None
    model = _parent_shape(parent) or list(shape.get("image_shape") or [])
    return "test_param.test_img_config.img_shapes", [model[2] if len(model) == 3 else 3, *size]


def _parent_shape(parent: Task | None) -> list[int] | None:
    """[H, W, C] the parent's model was fed (its stored contract, once it finished)."""
    contract = (parent.result or {}).get("contract") or {} if parent is not None else {}
    return list(contract["image_shape"]) if contract.get("image_shape") else None


def _fitting_problems(network: str, chw: list[int], parent: Task | None) -> list[str]:
    c, h, w = chw
    model = find_model(network)
    if model is None or model.image is None:  # an unknown network is refused by its own field
        return []
    problems = image_shape_problems(model.name, model.image.max_size, c, h, w)
    if model.input == "detection":
        problems += _detector_shape_problems(model, c, h, w)
    fixed = _parent_shape(parent)
    if not model.image.any_size and fixed and [h, w, c] != fixed:
        problems.append(f"{model.name}'s weights fix its input at {fixed[2]}×{fixed[0]}×{fixed[1]} (C×H×W), "
                        f"not {c}×{h}×{w}")
    return problems


def _detector_shape_problems(model, c: int, h: int, w: int) -> list[str]:  # noqa: ANN001 - a ModelInfo
    """A detector takes colour, square images of at least its ``min_size`` (its anchors are laid
    out on a square grid)."""
    problems = [] if c == 3 else [f"{model.name} takes 3-channel images (grey ones are repeated), got {c} channels"]
    if h != w:
        problems.append(f"{model.name} takes square images, got {h}×{w}")
    if min(h, w) < model.image.min_size:
        problems.append(f"{model.name} takes images of at least {model.image.min_size} pixels a side, got {h}×{w}")
    return problems
