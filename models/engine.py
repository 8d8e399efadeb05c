"""The training engine the worker calls: ``run_job(spec, hooks) -> JobOutcome``.

``dl_ts`` trains from scratch, ``dl_ft`` starts from the parent's weights blob, ``dl_ev`` evaluates
it on the test data. Training is seeded (the same seed and data give the same metrics on CPU),
checkpointed every epoch ("last") and on every new lowest validation loss ("best"), stoppable
between batches and resumable from a checkpoint with identical remaining metrics. The device is
chosen here, never at import time. Test metrics describe the final weights, the ones published
(``test_*``), and the lowest-validation-loss checkpoint (``test_best_*``), each with 95%
intervals and the chance level (models.evaluation). ``patience`` > 0 stops training after that
many epochs without a new lowest validation loss.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import torch

from contracts.catalog import find_model
from models.compat import IncompatibleModel, check_compatible, node_features_for
from models.datasets.types import ConnectomeDataset
from models.graphs import build_graphs
from models.job import EpochMetrics, JobHooks, JobOutcome, JobSpec, pause_requested
from contracts.statuses import TASK_TYPES
from models.evaluation import set_report
from models.networks import ConnectomeNet, build_network, canonical_name
from contracts.task_result import result_json
from models.training import Prepared, Stopped, evaluate, prepare, train_epoch
from models.sources import Source
from models.weights import FORMAT, load_checkpoint, pack_weights, save_checkpoint, unpack_weights

__all__ = ["DataMismatch", "IncompatibleModel", "run_job", "pick_device"]


class DataMismatch(ValueError):
    """The job's datasets disagree with each other (regions, node features or class names)."""


def pick_device(device: str | None = None) -> torch.device:
    """``device`` when given, else CUDA when this process has a GPU, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_contract(model: str, ds: ConnectomeDataset) -> dict:
    """The contract a model trained on ``ds`` gets (what ``JobOutcome.contract`` holds)."""
    return {
        "model": model,
        "regions": ds.n_regions,
        "node_features": node_features_for(ds.n_regions, ds.n_features),
        "classes": ds.n_classes,
        "class_names": list(ds.class_names),
    }


def run_job(spec: JobSpec, hooks: JobHooks, device: str | None = None) -> JobOutcome:
    """Run a ``dl_ts`` / ``dl_ft`` / ``dl_ev`` job; see the module docstring.

    Raises ValueError for an unknown task type or missing data, UnknownModel for an unknown model,
    IncompatibleModel when the parent weights or the resume checkpoint do not fit the model or
    data, DataMismatch when train/val/test disagree, BadWeights for unreadable blobs; and
    pydantic.ValidationError when the result has a key contracts.task_result does not define.
    """
    if spec.task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {spec.task_type!r}; expected one of {TASK_TYPES}")
    dev = pick_device(device)
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if spec.task_type == "dl_ev":
            outcome = _evaluate_job(spec, hooks, dev)
        else:
            outcome = _training(spec, hooks, dev)
        if not outcome.stopped:
            _add_standard_baseline(spec, outcome)
        if spec.n_permutations and not outcome.stopped and "test_accuracy" in outcome.result:
            _add_permutation_test(spec, hooks, dev, outcome)
    outcome.result = result_json(**outcome.result)
    return outcome


def _training(spec: JobSpec, hooks: JobHooks, dev: torch.device) -> JobOutcome:
    train_job = _train_job
    if _is_baseline(spec.model):
        from models.tangent import train_tangent as train_job
    if spec.folds:
        from models.cv_engine import run_cv

        return run_cv(spec, hooks, dev, train_job)
    return train_job(spec, hooks, dev)


def _add_standard_baseline(spec: JobSpec, outcome: JobOutcome) -> None:
    from models.standard_baseline import beside  # pyriemann and scikit-learn, loaded when needed

    outcome.result.update(beside(spec, outcome.result))


def _is_baseline(model: str) -> bool:
    info = find_model(model)
    return info is not None and not info.iterative


def _add_permutation_test(spec: JobSpec, hooks: JobHooks, dev: torch.device, outcome: JobOutcome) -> None:
    """Runs models.permutation's test; a stop during it stops the task (its result says so)."""
    from models.permutation import permutation_test

    record = permutation_test(spec, hooks, outcome.result["test_accuracy"], spec.n_permutations,
                              lambda s, h: _training(s, h, dev))
    if record is None:
        outcome.stopped = True
        outcome.result.update(stopped=True, permutation_test={"stopped": True})
        return
    outcome.result.update(permutation_test=record, test_permutation_p_value=record["p_value"])


# ---------------------------------------------------------------- checks


def _require(spec: JobSpec) -> None:
    if spec.task_type == "dl_ev":
        missing = [n for n, v in (("test data", spec.test), ("init_weights", spec.init_weights)) if v is None]
    else:
        missing = ["train data"] if spec.train is None else []
        if spec.task_type == "dl_ft" and spec.init_weights is None:
            missing.append("init_weights (the parent task's weights)")
    if missing:
        raise ValueError(f"{spec.task_type} needs {', '.join(missing)}")


def _check_same_shape(reference: ConnectomeDataset, others: dict) -> None:
    problems = []
    for role, ds in others.items():
        if ds is None:
            continue
        for what, a, b in (("regions", ds.n_regions, reference.n_regions),
                           ("node features", ds.n_features, reference.n_features),
                           ("class names", list(ds.class_names), list(reference.class_names))):
            if a != b:
                problems.append(f"{role} data has {what} {a}, train data has {b}")
    if problems:
        raise DataMismatch("; ".join(problems))


def _check_parent(meta: dict, name: str, contract: dict, what: str = "parent model") -> None:
    parent = meta.get("contract", {})
    problems = check_compatible(parent, name, contract["regions"], contract["node_features"], contract["classes"])
    if not problems and list(parent.get("class_names", [])) != contract["class_names"]:
        problems.append(f"class_names: the {what} has {parent.get('class_names')}, "
                        f"this task's data has {contract['class_names']}")
    if problems:
        raise IncompatibleModel(problems)


# ---------------------------------------------------------------- building


def _build(name: str, contract: dict, arch: dict) -> ConnectomeNet:
    return build_network(name, regions=contract["regions"], node_features=contract["node_features"],
                         classes=contract["classes"], **arch)


def load_network(blob: bytes) -> ConnectomeNet:
    """The trained network of a weights blob (what GET /api/v0/tasks/<id>/model returns), in
    eval mode on the CPU. Raises BadWeights."""
    state, meta = unpack_weights(blob)
    net = _build(meta["model"], meta["contract"], dict(meta.get("arch", {})))
    net.load_state_dict(state)
    return net.eval()


def _optimizer(net: ConnectomeNet, params) -> torch.optim.Optimizer:
    kind = params.optimizer.lower()
    if kind == "adam":
        return torch.optim.Adam(net.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay)
    if kind == "sgd":
        return torch.optim.SGD(net.parameters(), lr=params.learning_rate, momentum=0.9,
                               weight_decay=params.weight_decay)
    raise ValueError(f"unknown optimizer {params.optimizer!r}; expected 'adam' or 'sgd'")


def _prepare(net: ConnectomeNet, ds: ConnectomeDataset | None, keep: float, dev) -> Prepared | None:
    return None if ds is None else prepare(net, build_graphs(ds, keep), dev)


def _state_copy(net: ConnectomeNet) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


# ---------------------------------------------------------------- training


@dataclass
class _Run:
    """Everything a checkpoint must carry to continue a training run exactly."""

    name: str
    contract: dict
    arch: dict
    keep: float
    epoch: int = 0
    history: list = field(default_factory=list)
    best_loss: float | None = None
    best_epoch: int = 0
    best_state: dict | None = None
    last_state: dict | None = None
    parent: dict | None = None

    def weights_meta(self, epochs_done: int, params) -> dict:
        return {"model": self.name, "contract": self.contract, "arch": self.arch,
                "graph": {"edge_keep_percent": self.keep}, "epochs_done": epochs_done,
                "params": params.model_dump(), "fine_tuned_from": self.parent}


def _train_job(spec: JobSpec, hooks: JobHooks, dev: torch.device) -> JobOutcome:
    _require(spec)
    _check_same_shape(spec.train, {"val": spec.val, "test": spec.test})
    p = spec.params
    name = canonical_name(spec.model)
    run = _Run(name, data_contract(name, spec.train), {}, p.edge_keep_percent)
    torch.manual_seed(p.seed)
    generator = torch.Generator().manual_seed(p.seed)
    net = _start_network(spec, run).to(dev)
    optimizer = _optimizer(net, p)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=p.lr_step_size, gamma=p.lr_decay)
    if spec.resume_checkpoint is not None:
        _resume(spec.resume_checkpoint, run, net, optimizer, scheduler, generator)
    train, val = _prepare(net, spec.train, run.keep, dev), _prepare(net, spec.val, run.keep, dev)
    while run.epoch < p.epochs and not _patience_spent(run, p.patience):
        if pause_requested(hooks):
            return _outcome(run, net, spec, dev, stopped=True)
        try:
            _one_epoch(run, net, train, val, optimizer, scheduler, generator, spec, hooks)
        except Stopped:
            return _outcome(run, net, spec, dev, stopped=True)
    return _outcome(run, net, spec, dev, stopped=False)


def _patience_spent(run: _Run, patience: int) -> bool:
    """Early stopping: ``patience`` epochs (0: never) since the best one. Read from the run's
    state alone, so a resumed run stops where an uninterrupted one would."""
    return patience > 0 and run.epoch - run.best_epoch >= patience


def _start_network(spec: JobSpec, run: _Run) -> ConnectomeNet:
    if spec.task_type != "dl_ft":
        net = _build(run.name, run.contract, {})
        run.arch = dict(net.arch)
        return net
    state, meta = unpack_weights(spec.init_weights)
    _check_parent(meta, run.name, run.contract)
    run.arch = dict(meta.get("arch", {}))
    net = _build(run.name, run.contract, run.arch)
    net.load_state_dict(state)
    run.parent = {"model": meta["model"], "contract": meta["contract"],
                  "epochs_done": meta.get("epochs_done"),
                  "note": "fine-tuned: training started from the parent task's weights"}
    return net


def _one_epoch(run: _Run, net, train: Prepared, val: Prepared | None, optimizer, scheduler,
               generator, spec: JobSpec, hooks: JobHooks) -> EpochMetrics:
    started = time.perf_counter()
    lr = optimizer.param_groups[0]["lr"]
    train_loss, train_acc = train_epoch(net, train, optimizer, spec.params.batch_size, generator, hooks.should_stop)
    val_loss, val_acc = evaluate(net, val)[:2] if val is not None else (None, None)
    scheduler.step()
    run.epoch += 1
    metrics = EpochMetrics(epoch=run.epoch, epochs=spec.params.epochs, train_loss=train_loss,
                           train_accuracy=train_acc, val_loss=val_loss, val_accuracy=val_acc, learning_rate=lr,
                           seconds=time.perf_counter() - started, examples=train.n)
    run.history.append(asdict(metrics))
    run.last_state = _state_copy(net)
    score = val_loss if val_loss is not None else train_loss
    improved = run.best_loss is None or score < run.best_loss
    if improved:
        run.best_loss, run.best_epoch, run.best_state = score, run.epoch, run.last_state
    # The epoch is reported before its checkpoint: a crash between the two then redoes the
    # epoch on resume (its row is rewritten) instead of resuming past an epoch never reported.
    hooks.on_epoch(metrics)
    blob = save_checkpoint(_checkpoint(run, optimizer, scheduler, generator, spec))
    hooks.on_checkpoint("last", blob, run.epoch)
    if improved:
        hooks.on_checkpoint("best", blob, run.epoch)
    return metrics


def _checkpoint(run: _Run, optimizer, scheduler, generator, spec: JobSpec) -> dict:
    return {
        "format": FORMAT, "model": run.name, "contract": run.contract, "arch": run.arch,
        "edge_keep_percent": run.keep, "epoch": run.epoch, "params": spec.params.model_dump(),
        "model_state": run.last_state, "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "history": copy.deepcopy(run.history), "best_loss": run.best_loss,
        "best_epoch": run.best_epoch, "best_state": run.best_state, "parent": run.parent,
    }


def _resume(blob: Source, run: _Run, net, optimizer, scheduler, generator) -> None:
    state = load_checkpoint(blob)
    _check_parent({"contract": {**state["contract"], "model": state["model"]}}, run.name, run.contract,
                  what="checkpoint")
    net.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    if state["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    run.arch, run.keep, run.epoch = state["arch"], state["edge_keep_percent"], state["epoch"]
    run.history, run.parent = list(state["history"]), state["parent"]
    run.best_loss, run.best_epoch, run.best_state = state["best_loss"], state["best_epoch"], state["best_state"]
    run.last_state = state["model_state"]


# ---------------------------------------------------------------- results


def _outcome(run: _Run, net, spec: JobSpec, dev, stopped: bool) -> JobOutcome:
    meta = run.weights_meta(run.epoch, spec.params)
    weights = pack_weights(run.last_state, meta) if run.last_state is not None else None
    best = pack_weights(run.best_state, {**meta, "epochs_done": run.best_epoch}) if run.best_state else None
    result = _train_result(run, spec, dev, stopped)
    if not stopped and spec.test is not None:
        seed = spec.params.seed
        net.load_state_dict(run.last_state)
        result.update(_test_result(net, spec.test, run.keep, dev, seed, f"last epoch ({run.epoch})"))
        net.load_state_dict(run.best_state)
        result.update(_test_result(net, spec.test, run.keep, dev, seed,
                                   f"best validation loss (epoch {run.best_epoch})", prefix="test_best"))
    return JobOutcome(stopped, run.epoch, weights, best, result, dict(run.contract))


def _train_result(run: _Run, spec: JobSpec, dev, stopped: bool) -> dict:
    final = run.history[-1] if run.history else None
    best = run.history[run.best_epoch - 1] if run.best_epoch else None
    return {
        "task_type": spec.task_type, "model": run.name, "device": str(dev), "stopped": stopped,
        "epochs": spec.params.epochs, "epochs_done": run.epoch, "params": spec.params.model_dump(),
        "graph": _graph_note(spec.train, run.keep),
        "final": final, "best": best, "best_epoch": run.best_epoch or None,
        "final_val_loss": final and final["val_loss"], "final_val_accuracy": final and final["val_accuracy"],
        "best_val_loss": best and best["val_loss"], "best_val_accuracy": best and best["val_accuracy"],
        "fine_tuned_from": run.parent, "history": run.history,
        "early_stopped": not stopped and run.epoch < spec.params.epochs,
    }


def _graph_note(ds: ConnectomeDataset, keep: float) -> dict:
    source = "dataset" if ds.n_features > 0 else "connectivity profile (matrix row)"
    return {"edge_keep_percent": keep, "node_features": source, "edges": "both directions, no self-loops"}


def _test_result(net: ConnectomeNet, ds: ConnectomeDataset, keep: float, dev, seed: int, label: str,
                 prefix: str = "test") -> dict:
    data = prepare(net, build_graphs(ds, keep), dev)
    loss, _, prob = evaluate(net, data)
    return set_report(ds.labels, prob.numpy(), list(ds.class_names), ds.subjects, seed=seed, label=label,
                       loss=loss, prefix=prefix)


def _evaluate_job(spec: JobSpec, hooks: JobHooks, dev: torch.device) -> JobOutcome:
    _require(spec)
    if _is_baseline(spec.model):
        return _evaluate_baseline(spec)
    name = canonical_name(spec.model)
    state, meta = unpack_weights(spec.init_weights)
    contract = data_contract(name, spec.test)
    _check_parent(meta, name, contract)
    net = _build(name, contract, dict(meta.get("arch", {})))
    net.load_state_dict(state)
    net.to(dev)
    if hooks.should_stop():
        return JobOutcome(True, 0, None, None, {"task_type": "dl_ev", "model": name, "stopped": True}, contract)
    keep = float(meta.get("graph", {}).get("edge_keep_percent", 100.0))
    result = {"task_type": "dl_ev", "model": name, "device": str(dev), "stopped": False,
              "graph": _graph_note(spec.test, keep),
              "evaluated": {"model": meta["model"], "contract": meta["contract"],
                            "epochs_done": meta.get("epochs_done"),
                            "note": "evaluation of the parent task's weights; no training"}}
    result.update(_test_result(net, spec.test, keep, dev, spec.params.seed, "the evaluated task's weights"))
    return JobOutcome(False, 0, spec.init_weights, None, result, contract)


def _evaluate_baseline(spec: JobSpec) -> JobOutcome:
    from models.tangent import NAME, evaluate_tangent

    meta = unpack_weights(spec.init_weights)[1]
    contract = {**data_contract(NAME, spec.test), "node_features": meta["contract"]["node_features"]}
    _check_parent(meta, NAME, contract)
    result = {"task_type": "dl_ev", "model": NAME, "device": "cpu", "stopped": False,
              "evaluated": {"model": NAME, "contract": meta["contract"], "note": "evaluation of the parent "
                            "task's fitted baseline"}, **evaluate_tangent(spec, spec.init_weights)}
    return JobOutcome(False, 0, spec.init_weights, None, result, contract)
