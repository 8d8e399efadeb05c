"""Checks of an MXServer /train or /eval request against the database, before anything is
queued: the network is an MXNet network (of the request's target), the datasets exist, hold the
data it takes (class-labelled images, or images with boxes for a detector), are READY and
agree (class names, image shape), and a fine-tune or evaluation names a finished MXNet task whose
weights fit. Decided from metadata rows only (no mxnet in the API); another project's task or
dataset reads as one that does not exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.auth.submit import visible_datasets
from app.usecases.parents import usable_parent
from app.usecases.lineage_checks import lineage_problems, named_datasets
from contracts.mxserver_request import TARGET_INPUTS, EvalRequest, TrainRequest
from dao import dataset_queries
from dao.tables import Dataset, Task
from contracts.statuses import DatasetStatus
from contracts.catalog import ModelInfo, all_models, find_model
from contracts.task_needs import DATA_FIELDS, FORM_FIELDS

Problems = list[tuple[str, str]]


def check_network(name: str, target: str | None = None) -> tuple[ModelInfo | None, Problems]:
    """The MXNet network ``name`` names, which must be trained for ``target`` when one is given
    (contracts.mxserver_request.TARGET_INPUTS)."""
    model = find_model(name)
    if model is None or model.backend != "mxnet":
        known = ", ".join(m.name for m in all_models() if m.backend == "mxnet")
        return None, [("network", f"unknown MXNet network {name!r}; known: {known}")]
    if target is not None and model.input != TARGET_INPUTS[target]:
        fitting = ", ".join(m.name for m in all_models() if m.input == TARGET_INPUTS[target])
        return None, [("network", f"{model.name} is {_WHAT[model.input]}, not {_WHAT[TARGET_INPUTS[target]]} "
                                  f"(target {target!r}); {_WHAT[TARGET_INPUTS[target]]}s: {fitting}")]
    return model, []


# What a network of each catalog input is, and the data it takes, in a refusal.
_DATA = {"image": "class-labelled images", "detection": "images with boxes (kind detection)"}
_WHAT = {"image": "an image classifier", "detection": "an object detector", "connectome": "a connectome network"}


def _shape(row: Dataset) -> dict[str, Any]:
    return {"classes": list(row.meta.get("classes") or []), "image_shape": list(row.meta.get("image_shape") or [])}


def _row_problem(name: str, row: Dataset | None, kind: str) -> str | None:
    if row is None:
        return f"dataset {name!r} does not exist"
    if row.kind != kind:
        return f"dataset {name!r} holds {row.kind} data, not {_DATA[kind]}"
    if row.status != DatasetStatus.READY.value:
        return f"dataset {name!r} is {row.status}" + (
            "; it is still being validated, try again shortly" if row.status == DatasetStatus.VALIDATING.value
            else "; its upload was rejected")
    return None


def check_datasets(session: Session, req: TrainRequest | EvalRequest, network: ModelInfo | None
                   ) -> tuple[dict[str, Any], Problems]:
    """The shape every named dataset shares ({classes, image_shape}), and problems: each must
    be READY and of the kind ``network`` takes (images, or images with boxes for a detector)."""
    kind = "detection" if network is not None and network.input == "detection" else "image"
    named = [(f"{field}[{i}]", n) for field in DATA_FIELDS for i, n in enumerate(getattr(req, field, []))]
    rows = visible_datasets(dataset_queries.find_datasets(session, [n for _, n in named]))
    problems: Problems = []
    first: tuple[str, dict[str, Any]] | None = None
    for field, name in named:
        problem = _row_problem(name, rows.get(name), kind)
        if problem:
            problems.append((field, problem))
            continue
        shape = _shape(rows[name])
        if first is None:
            first = (field, shape)
        problems += [(field, f"dataset {name!r} has {k.replace('_', ' ')} {shape[k]} but {first[0]} has {first[1][k]}")
                     for k in ("classes", "image_shape") if shape[k] != first[1][k]]
    return ({} if first is None else first[1]), problems


def check_lineage(session: Session, req: TrainRequest | EvalRequest, parent: Task | None) -> Problems:
    """Refuses a test (or training) set the parent's lineage leaves empty (app.usecases.lineage_checks)."""
    if parent is None:
        return []
    roles = {role: list(getattr(req, field, [])) for role, field in FORM_FIELDS.items()}
    rows = dataset_queries.find_datasets(session, [n for names in roles.values() for n in names])
    facts = {n: (r.checksum, int(r.meta.get("n_images") or 0)) for n, r in rows.items()}
    return lineage_problems(session, parent.id, named_datasets(roles, facts), req.allow_seen_test, "images")


def check_parent(session: Session, parent_id: str | None, network: ModelInfo | None,
                 shape: dict[str, Any], task_type: str) -> tuple[Task | None, Problems]:
    """The finished MXNet task whose weights a fine-tune or evaluation starts from."""
    if parent_id is None:
        return None, []
    parent, problems = usable_parent(session, parent_id, field="trained_task_id", backend="mxnet",
                                     task_type=task_type)
    return parent, problems if parent is None else contract_problems(parent, network, shape)


def contract_problems(parent: Task, network: ModelInfo | None, shape: dict[str, Any]) -> Problems:
    """Whether the parent's model (its stored contract, once it finished) fits the network and data."""
    contract = (parent.result or {}).get("contract") or {}
    problems: Problems = []
    if network is not None and contract.get("model") not in (None, network.name):
        problems.append(("trained_task_id", f"its model is {contract.get('model')}, this request asks for {network.name}"))
    if shape and contract.get("class_names") is not None and list(contract["class_names"]) != shape["classes"]:
        problems.append(("trained_task_id", f"its model was trained on classes {contract['class_names']}, "
                                            f"the data has {shape['classes']}"))
    return problems
