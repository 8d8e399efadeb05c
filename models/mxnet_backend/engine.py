"""``run_mx_job(spec, hooks)``: train, fine-tune or evaluate an MXNet image classifier.

Hooks have the torch engine's shape (``models.job.JobHooks``): ``on_epoch(EpochMetrics)`` after
every epoch; ``on_checkpoint("last", blob, epoch)`` every ``save_period`` epochs and after the
final one (with ``on_checkpoint("epoch", blob, epoch)`` beside it: a checkpoint to keep under its
epoch, MXServer's ``prefix-epoch.params``), ``on_checkpoint("best", blob, epoch)`` whenever the validation loss improves;
``should_stop()`` polled before every batch. The result is a ``models.job.JobOutcome`` whose
weight blobs are checkpoints (``checkpoint.pack_checkpoint``): any of them can resume a job or be
evaluated.

Images are fitted to the job's ``spec.input_shape`` as MXNet's ImageIter fits them (fitting.py;
the result's ``input_fitting`` says how). A finished training's test result describes the final
weights (``test``) and the lowest-validation-loss epoch's (``test_best``), as the torch engine's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import mxnet as mx
import numpy as np
from mxnet import gluon

from models.job import EpochMetrics, JobHooks, JobOutcome, pause_requested, report_phase
from models.mxnet_backend import pixel_baseline
from models.mxnet_backend.checkpoint import (
    CheckpointError, CheckpointMeta, load_params, load_states, params_bytes, unpack_checkpoint,
)
from models.mxnet_backend.fitting import DataShape, fitted_shape, fitting_record
from models.mxnet_backend.context import resolve_context
from models.mxnet_backend.epoch_checkpoints import store_before_pause, store_epoch
from models.mxnet_backend.loop import EvalResult, evaluate_dataset, train_epoch
from models.mxnet_backend.networks import MxNetInfo, build_network, find_network
from models.mxnet_backend.schedule import make_initializer, make_lr_scheduler
from models.mxnet_backend.spec import MxJobSpec, check_spec, contract_problems, input_shape
from models.sources import Source


@dataclass
class _Run:
    """A training run in progress."""

    spec: MxJobSpec
    info: MxNetInfo
    ctx: mx.Context
    net: gluon.HybridBlock
    trainer: gluon.Trainer
    epoch: int  # epochs completed
    best_val_loss: float | None
    last_blob: Source | None  # a resume's checkpoint (a worker: its file) until an epoch is stored
    target: DataShape | None = None  # (C, H, W) the images are fitted to
    best_blob: bytes | None = None
    best_epoch: int | None = None
    best_params: bytes | None = None  # the best_epoch's parameters

    def meta(self) -> CheckpointMeta:
        ds = self.spec.train
        return CheckpointMeta(self.info.name, ds.class_names, fitted_shape(ds.image_shape, self.target), self.epoch,
                              self.best_val_loss, fitted=self.target is not None, best_epoch=self.best_epoch)


def _checked_weights(blob: Source, spec: MxJobSpec, ds, same_names: bool):
    """The checkpoint in ``blob`` after checking it fits ``spec`` on ``ds``. Raises CheckpointError."""
    ckpt = unpack_checkpoint(blob)
    problems = contract_problems(ckpt.meta, spec.network, ds, same_names, input_shape(spec))
    if problems:
        raise CheckpointError("; ".join(problems))
    return ckpt


def _new_trainer(net, spec: MxJobSpec) -> gluon.Trainer:
    p = spec.params
    per_epoch = math.ceil(spec.train.n_images / p.batch_size)
    schedule = make_lr_scheduler(p.base_lr, p.lr_step_epochs, p.lr_factor, p.stop_factor_lr, per_epoch,
                                 p.lr_step_updates, tuple(p.lr_steps_updates))
    opts = {"learning_rate": p.base_lr, "wd": p.wd, "momentum": p.momentum}
    if schedule is not None:
        opts["lr_scheduler"] = schedule
    return gluon.Trainer(net.collect_params(), "sgd", opts, kvstore=None)


def _start(spec: MxJobSpec, ctx: mx.Context) -> _Run:
    """Builds the network and trainer: fresh, from a parent's weights (dl_ft) or resumed.
    Raises CheckpointError when given weights do not fit."""
    info = find_network(spec.network)
    net = build_network(info.name, spec.train.n_classes)
    resume = _checked_weights(spec.resume_checkpoint, spec, spec.train, True) if spec.resume_checkpoint else None
    if resume is not None:
        load_params(net, resume.params, ctx)
    elif spec.init_weights is not None:
        load_params(net, _checked_weights(spec.init_weights, spec, spec.train, False).params, ctx)
    else:
        net.initialize(make_initializer(spec.params.initializer, spec.params.init_param), ctx=ctx)
    net.hybridize()
    trainer = _new_trainer(net, spec)
    if resume is not None and resume.states is not None:
        load_states(trainer, resume.states)
    run = _Run(spec, info, ctx, net, trainer, 0, None, spec.resume_checkpoint, input_shape(spec))
    if resume is not None:
        run.epoch, run.best_val_loss = resume.meta.epoch, resume.meta.best_val_loss
        run.best_epoch, run.best_params = resume.meta.best_epoch, resume.best()
    return run


def _eval(run: _Run, ds) -> EvalResult:
    return evaluate_dataset(run.net, run.info, ds, run.spec.params.batch_size, run.ctx, run.target)


def _finish_epoch(run: _Run, hooks: JobHooks, train, seconds: float) -> EpochMetrics:
    """Validation, metrics, checkpoints for the epoch just trained."""
    p, val = run.spec.params, run.spec.val
    v = _eval(run, val) if val is not None else None
    run.epoch += 1
    metrics = EpochMetrics(epoch=run.epoch, epochs=p.num_epoch, train_loss=train.loss,
                           train_accuracy=train.accuracy, val_loss=v.loss if v else None,
                           val_accuracy=v.accuracy if v else None, learning_rate=float(run.trainer.learning_rate),
                           seconds=seconds, examples=run.spec.train.n_images)
    hooks.on_epoch(metrics)
    improved = v is not None and (run.best_val_loss is None or v.loss < run.best_val_loss)
    if improved:
        run.best_val_loss, run.best_epoch, run.best_params = v.loss, run.epoch, params_bytes(run.net)
    store_epoch(run, hooks, improved)
    return metrics


def _train(spec: MxJobSpec, hooks: JobHooks, ctx: mx.Context) -> JobOutcome:
    mx.random.seed(spec.params.seed)
    run = _start(spec, ctx)
    report_phase(hooks, "built")
    report_phase(hooks, "training")
    history, stopped = [], False
    while run.epoch < spec.params.num_epoch:
        if pause_requested(hooks):
            store_before_pause(run, hooks)
            stopped = True
            break
        rng = np.random.default_rng([spec.params.seed, run.epoch]) if spec.params.shuffle else None
        started = time.monotonic()
        train = train_epoch(run.net, run.trainer, run.info, spec.train, spec.params.batch_size, rng, ctx,
                            hooks.should_stop, run.target)
        if train is None:
            stopped = True
            break
        history.append(asdict(_finish_epoch(run, hooks, train, time.monotonic() - started)))
    result = {"backend": "mxnet", "network": run.info.name, "device": str(ctx), "history": history,
              "best_val_loss": run.best_val_loss}
    fitting = fitting_record(spec.train.image_shape, run.target)
    if fitting is not None:
        result["input_fitting"] = fitting
    if spec.test is not None and not stopped:
        result.update(_test_results(run))
    contract = run.meta().contract()
    return JobOutcome(stopped, run.epoch, run.last_blob, run.best_blob, result, contract)


def _test_results(run: _Run) -> dict:
    """``test`` (the final weights), ``test_best`` (the lowest-validation-loss epoch's, when
    there was validation data) and the pixel baseline beside the final weights."""
    test = _eval(run, run.spec.test)
    out = {"test": {**test.public(), "evaluated": f"last epoch ({run.epoch})"}}
    out.update(pixel_baseline.beside(run.spec, test.probabilities))
    if run.best_params is not None:
        if run.best_epoch != run.epoch:
            load_params(run.net, run.best_params, run.ctx)
            test = _eval(run, run.spec.test)
        out["test_best"] = {**test.public(), "evaluated": f"best validation loss (epoch {run.best_epoch})"}
    return out


def evaluate_checkpoint(blob: Source, network: str, ds, device: str = "cpu", batch_size: int = 64,
                        target: DataShape | None = None) -> EvalResult:
    """Loss, accuracy and confusion matrix of the checkpoint in ``blob`` on ``ds``, its images
    fitted to ``target`` (C, H, W), else to the shape the checkpoint's training fitted its own to.

    Raises CheckpointError when the blob is not a checkpoint or does not fit ``network``/``ds``
    (network, class names, channels), DeviceUnavailable / ValueError for a bad ``device``.
    """
    ctx = resolve_context(device)
    ckpt = unpack_checkpoint(blob)
    target = target or ckpt.meta.data_shape()
    problems = contract_problems(ckpt.meta, network, ds, same_names=True, target=target)
    if problems:
        raise CheckpointError("; ".join(problems))
    info = find_network(network)
    net = build_network(info.name, len(ckpt.meta.class_names))
    load_params(net, ckpt.params, ctx)
    net.hybridize()
    return evaluate_dataset(net, info, ds, batch_size, ctx, target)


def _evaluate_job(spec: MxJobSpec, hooks: JobHooks) -> JobOutcome:
    report_phase(hooks, "evaluating")
    target = input_shape(spec)
    res = evaluate_checkpoint(spec.init_weights, spec.network, spec.test, spec.device, spec.params.batch_size, target)
    meta = unpack_checkpoint(spec.init_weights).meta
    result = {"backend": "mxnet", "network": meta.network, "device": spec.device, "test": res.public(),
              "checkpoint_epoch": meta.epoch}
    fitting = fitting_record(spec.test.image_shape, target)
    if fitting is not None:
        result["input_fitting"] = fitting
    return JobOutcome(False, 0, None, None, result, meta.contract())


def run_mx_job(spec: MxJobSpec, hooks: JobHooks) -> JobOutcome:
    """Runs the job ``spec`` describes (see the module doc).

    Raises MxSpecError for an inconsistent spec, CheckpointError for weights that are not a
    checkpoint or do not fit, DeviceUnavailable for a GPU this process cannot see.
    """
    check_spec(spec)
    if spec.task_type == "dl_ev":
        return _evaluate_job(spec, hooks)
    return _train(spec, hooks, resolve_context(spec.device))
