"""``run_detection_job(spec, hooks)``: train, fine-tune or evaluate a GluonCV SSD detector.

The recipe is GluonCV's own (its ``train_ssd.py``): ``SSDDefaultTrainTransform`` (colour
distortion, expansion, constrained crop, resize, flip) makes each image's anchor targets in the
data loader, ``SSDMultiBoxLoss`` (hard negative mining 3:1) and SGD with ``trainer.step(1)``,
since the loss is already normalised by the positive anchors. Hooks, checkpoints, pausing and
the outcome have the classification engine's shape (``engine.py``). Each epoch is scored on the
validation images by VOC mAP (GluonCV's recipe keeps its best epoch by it too: a detector's
training loss is not its validation score), and the best checkpoint is the highest; the test set
is scored with both the last and the best epoch's weights (``test`` and ``test_best``) as VOC mAP
at IoU 0.5 and COCO mAP over IoU 0.50:0.95, each with a bootstrap interval over images
(``models.detection_map``).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import mxnet as mx
import numpy as np
from gluoncv.data.batchify import Stack, Tuple
from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform, SSDDefaultValTransform
from gluoncv.loss import SSDMultiBoxLoss
from mxnet import autograd, gluon

from contracts.mxserver_request import MxTrainParams
from models.detection_map import ImageDetections, ImageTruth, average_precision, match, with_interval
from models.job import EpochMetrics, JobHooks, JobOutcome, pause_requested, report_phase
from models.mxnet_backend.checkpoint import (
    Checkpoint, CheckpointError, CheckpointMeta, load_params, load_states, params_bytes, unpack_checkpoint,
)
from models.mxnet_backend.context import resolve_context
from models.mxnet_backend.detection_data import DetectionDataset
from models.mxnet_backend.detector_networks import DetectorInfo, build_detector, find_detector
from models.mxnet_backend.detector_spec import DetectionJobSpec
from models.mxnet_backend.epoch_checkpoints import store_before_pause, store_epoch
from models.mxnet_backend.schedule import make_lr_scheduler
from models.sources import Source

BOOTSTRAP_SEED = 0
# The ImageNet normalisation GluonCV's SSD transforms apply (and the exported graph does inside).
IMAGE_MEAN, IMAGE_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


# An image with no box gets this one: class -1 makes its anchor background, and its one-pixel
# extent keeps the box encoding finite (SSD matching gives every box an anchor, and a box of
# zero width encodes to log(0)).
_NO_BOX = np.array([[0.0, 0.0, 1.0, 1.0, -1.0, 0.0]], np.float32)


class _Images(gluon.data.Dataset):
    """(image HxWx3 uint8 NDArray, label (n, 6): pixel corners, class, difficult) per image."""

    def __init__(self, ds: DetectionDataset):
        self._ds = ds

    def __len__(self) -> int:
        return self._ds.n_images

    def __getitem__(self, i: int):
        image = self._ds.images[i]
        if image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        boxes = self._ds.pixel_boxes(i)
        label = np.concatenate([boxes[:, 1:5], boxes[:, :1], boxes[:, 5:6]], axis=1) if len(boxes) else _NO_BOX
        return mx.nd.array(image, dtype=np.uint8), label


@dataclass
class _Run:
    spec: DetectionJobSpec
    info: DetectorInfo
    ctx: mx.Context
    net: gluon.HybridBlock
    trainer: gluon.Trainer | None
    class_names: tuple[str, ...]
    height: int
    width: int
    epoch: int = 0
    best_val_map: float | None = None
    best_epoch: int | None = None
    best_params: bytes | None = None
    last_blob: Source | None = None  # a resume's checkpoint (a worker: its file) until an epoch is stored
    best_blob: bytes | None = None

    def meta(self) -> CheckpointMeta:
        return CheckpointMeta(self.info.name, self.class_names, (self.height, self.width, 3), self.epoch,
                              fitted=True, best_epoch=self.best_epoch, best_val_map=self.best_val_map)

    def anchors(self):
        """The anchors of the training graph, which it then keeps (a hybridized SSD caches the
        graph of the mode it first ran in: ``predicting`` switches it back)."""
        self.net.hybridize(static_alloc=True, static_shape=True)
        with autograd.train_mode():
            _, _, anchors = self.net(mx.nd.zeros((1, 3, self.height, self.width), ctx=self.ctx))
        return anchors.as_in_context(mx.cpu())


def _shape(spec: DetectionJobSpec, info: DetectorInfo, ds: DetectionDataset) -> tuple[int, int]:
    """(H, W) the detector is fed: the asked shape, else the stored images' larger side, at
    least the detector's ``min_size``; square, as SSD's anchors are laid out."""
    if spec.data_shape is not None:
        return spec.data_shape
    side = max(*ds.image_shape[:2], info.min_size)
    return side, side


def _trainer(net, params: MxTrainParams, n_images: int) -> gluon.Trainer:
    per_epoch = math.ceil(n_images / params.batch_size)
    schedule = make_lr_scheduler(params.base_lr, params.lr_step_epochs, params.lr_factor, params.stop_factor_lr,
                                 per_epoch, params.lr_step_updates, tuple(params.lr_steps_updates))
    opts = {"learning_rate": params.base_lr, "wd": params.wd, "momentum": params.momentum}
    if schedule is not None:
        opts["lr_scheduler"] = schedule
    return gluon.Trainer(net.collect_params(), "sgd", opts, kvstore=None)


def _checkpoint(blob: Source, info: DetectorInfo, class_names) -> Checkpoint:
    ckpt = unpack_checkpoint(blob)
    if ckpt.meta.network != info.name:
        raise CheckpointError(f"weights are for {ckpt.meta.network}, the job asks for {info.name}")
    if class_names is not None and len(ckpt.meta.class_names) != len(class_names):
        raise CheckpointError(f"weights were trained on classes {list(ckpt.meta.class_names)}, "
                              f"data has {list(class_names)}")
    return ckpt


def _start(spec: DetectionJobSpec, ctx: mx.Context) -> _Run:
    info = find_detector(spec.network)
    ds = spec.train if spec.train is not None else spec.test
    height, width = _shape(spec, info, ds)
    resume = _checkpoint(spec.resume_checkpoint, info, ds.class_names) if spec.resume_checkpoint else None
    init = _checkpoint(spec.init_weights, info, ds.class_names) if spec.init_weights and not resume else None
    if init is not None and spec.task_type == "dl_ev":
        height, width = init.meta.image_shape[:2]
    net = build_detector(info.name, ds.class_names, height)
    if resume or init:
        load_params(net, (resume or init).params, ctx)
    else:
        net.initialize(ctx=ctx)
    net.hybridize(static_alloc=True, static_shape=True)
    trainer = _trainer(net, spec.params, ds.n_images) if spec.task_type != "dl_ev" else None
    run = _Run(spec, info, ctx, net, trainer, ds.class_names, height, width)
    if resume is not None:
        if resume.states is not None:
            load_states(trainer, resume.states)
        run.epoch, run.best_val_map, run.best_epoch = resume.meta.epoch, resume.meta.best_val_map, resume.meta.best_epoch
        run.best_params, run.last_blob = resume.best(), spec.resume_checkpoint
    return run


def _loader(ds: DetectionDataset, transform, batch_size: int, shuffle: bool) -> gluon.data.DataLoader:
    """Every image once an epoch, the last batch smaller (a loader is made each epoch, so
    GluonCV's "rollover" would drop the remainder, and every image when the batch is larger
    than the set)."""
    return gluon.data.DataLoader(_Images(ds).transform(transform), batch_size, shuffle=shuffle,
                                 batchify_fn=Tuple(Stack(), Stack(), Stack()), last_batch="keep", num_workers=0)


def _seed(seed: int, epoch: int) -> None:
    """GluonCV's transforms draw from numpy's and Python's global generators."""
    mixed = (seed * 100_003 + epoch) % (2 ** 31)
    np.random.seed(mixed)
    random.seed(mixed)
    mx.random.seed(mixed)


def _train_epoch(run: _Run, loss_fn, should_stop) -> float | None:
    """Mean loss over the epoch's batches; None when stopped. The losses are summed on the
    device and read once at the end: reading one each batch would make MXNet's engine wait,
    where it otherwise computes a batch while the next is being made."""
    p = run.spec.params
    _seed(p.seed, run.epoch)
    transform = SSDDefaultTrainTransform(run.width, run.height, run.anchors(), IMAGE_MEAN, IMAGE_STD)
    total, batches = mx.nd.zeros(1, ctx=run.ctx), 0
    for x, cls_t, box_t in _loader(run.spec.train, transform, p.batch_size, shuffle=True):
        if should_stop():
            return None
        x, cls_t, box_t = (a.as_in_context(run.ctx) for a in (x, cls_t, box_t))
        with autograd.record():
            cls_p, box_p, _ = run.net(x)
            sum_loss, _, _ = loss_fn(cls_p, box_p, cls_t, box_t)
            autograd.backward(sum_loss)
        run.trainer.step(1)
        total += mx.nd.add_n(*[loss.mean() for loss in sum_loss]) / len(sum_loss)
        batches += 1
    return float(total.asscalar()) / max(batches, 1)


def detect(net, ds: DetectionDataset, height: int, width: int, ctx: mx.Context, batch_size: int
           ) -> list[ImageDetections]:
    """Each image's detections, corners in pixels of the stored image (as ``truths``)."""
    net.hybridize(static_alloc=True, static_shape=True)  # a graph for predicting, not the training one
    resize = SSDDefaultValTransform(width, height, IMAGE_MEAN, IMAGE_STD)
    stored_h, stored_w, _ = ds.image_shape
    to_pixels = np.array([stored_w, stored_h, stored_w, stored_h], np.float32)
    out = []
    images = _Images(ds)
    for start in range(0, ds.n_images, batch_size):
        batch = mx.nd.stack(*[resize(*images[i])[0] for i in range(start, min(start + batch_size, ds.n_images))])
        ids, scores, boxes = (a.asnumpy() for a in net(batch.as_in_context(ctx)))
        for i in range(ids.shape[0]):
            keep = ids[i, :, 0] >= 0
            corners = np.clip(boxes[i, keep] / np.array([width, height, width, height], np.float32), 0, 1)
            out.append(ImageDetections(corners * to_pixels, ids[i, keep, 0].astype(int), scores[i, keep, 0]))
    return out


def truths(ds: DetectionDataset) -> list[ImageTruth]:
    """Each image's boxes in pixels of the stored image."""
    boxes = [ds.pixel_boxes(i) for i in range(ds.n_images)]
    return [ImageTruth(b[:, 1:5], b[:, 0].astype(int), b[:, 5] > 0) for b in boxes]


def score(detections: list[ImageDetections], ds: DetectionDataset, resamples: int | None = None) -> dict:
    """The test report: VOC and COCO mAP with intervals over images, per-class AP."""
    extra = {} if resamples is None else {"resamples": resamples}
    report = {"n": ds.n_images, "n_objects": ds.n_objects, "class_names": list(ds.class_names)}
    for convention in ("voc", "coco"):
        m = match(truths(ds), detections, ds.n_classes, convention)
        report[f"map_{convention}"] = with_interval(m, convention, BOOTSTRAP_SEED, **extra)
    return report


PICTURED_IMAGES = 6


def _evaluate(run: _Run, ds: DetectionDataset, params: bytes | None = None, pictures: dict | None = None,
              evaluated: str = "") -> dict:
    """The test report; with ``pictures``, also the first test images with their true and
    detected boxes (``detections_png``, titled with what was ``evaluated``)."""
    if params is not None:
        load_params(run.net, params, run.ctx)
    found = detect(run.net, ds, run.height, run.width, run.ctx, run.spec.params.batch_size)
    if pictures is not None and ds.n_images:
        pictures["detections_png"] = _picture(ds, found[:PICTURED_IMAGES], f"test images, {evaluated}")
    return score(found, ds)


def _picture(ds: DetectionDataset, found: list[ImageDetections], title: str) -> bytes:
    from models.plots import detections_png

    shown = range(len(found))
    truth = [np.column_stack([b[:, 0], b[:, 1:5]]) for b in (ds.pixel_boxes(i) for i in shown)]
    return detections_png([ds.images[i] for i in shown], truth, [(d.boxes, d.labels, d.scores) for d in found],
                          list(ds.class_names), title=title)


def _val_map(run: _Run, ds: DetectionDataset) -> float | None:
    """VOC mAP on the validation images; None when none of them has a box that counts."""
    found = detect(run.net, ds, run.height, run.width, run.ctx, run.spec.params.batch_size)
    return average_precision(match(truths(ds), found, ds.n_classes, "voc"), "voc")["map"]


def _finish_epoch(run: _Run, hooks: JobHooks, train_loss: float, seconds: float) -> dict:
    p, val = run.spec.params, run.spec.val
    val_map = _val_map(run, val) if val is not None else None
    run.epoch += 1
    metrics = EpochMetrics(epoch=run.epoch, epochs=p.num_epoch, train_loss=train_loss, train_accuracy=None,
                           val_loss=None, val_accuracy=None, learning_rate=float(run.trainer.learning_rate),
                           seconds=seconds, examples=run.spec.train.n_images, val_map=val_map)
    hooks.on_epoch(metrics)
    improved = val_map is not None and (run.best_val_map is None or val_map > run.best_val_map)
    if improved:
        run.best_val_map, run.best_epoch, run.best_params = val_map, run.epoch, params_bytes(run.net)
    store_epoch(run, hooks, improved)
    return asdict(metrics)


def _train(spec: DetectionJobSpec, hooks: JobHooks, ctx: mx.Context) -> JobOutcome:
    run = _start(spec, ctx)
    loss_fn = SSDMultiBoxLoss()
    report_phase(hooks, "training")
    history, stopped, pictures = [], False, {}
    while run.epoch < spec.params.num_epoch:
        if pause_requested(hooks):
            store_before_pause(run, hooks)
            stopped = True
            break
        started = time.monotonic()
        train_loss = _train_epoch(run, loss_fn, hooks.should_stop)
        if train_loss is None:
            stopped = True
            break
        history.append(_finish_epoch(run, hooks, train_loss, time.monotonic() - started))
    result = {"backend": "mxnet", "target": "detection", "network": run.info.name, "device": str(ctx),
              "data_shape": [3, run.height, run.width], "history": history, "best_val_map": run.best_val_map,
              "best_epoch": run.best_epoch}
    if spec.test is not None and not stopped:
        report_phase(hooks, "testing")
        last = params_bytes(run.net)
        evaluated = f"last epoch ({run.epoch})"
        result["test"] = {**_evaluate(run, spec.test, pictures=pictures, evaluated=evaluated), "evaluated": evaluated}
        if run.best_params is not None:
            result["test_best"] = {**_evaluate(run, spec.test, run.best_params),
                                   "evaluated": f"best validation VOC mAP (epoch {run.best_epoch})"}
            load_params(run.net, last, run.ctx)
    return JobOutcome(stopped, run.epoch, run.last_blob, run.best_blob, result, run.meta().contract(), pictures)


def _evaluate_job(spec: DetectionJobSpec, hooks: JobHooks) -> JobOutcome:
    report_phase(hooks, "evaluating")
    run = _start(spec, resolve_context(spec.device))
    meta = unpack_checkpoint(spec.init_weights).meta
    pictures: dict[str, bytes] = {}
    result = {"backend": "mxnet", "target": "detection", "network": run.info.name, "device": spec.device,
              "data_shape": [3, run.height, run.width],
              "test": _evaluate(run, spec.test, pictures=pictures, evaluated=f"checkpoint of epoch {meta.epoch}"),
              "checkpoint_epoch": meta.epoch}
    return JobOutcome(False, 0, None, None, result, meta.contract(), pictures)


def run_detection_job(spec: DetectionJobSpec, hooks: JobHooks) -> JobOutcome:
    """Runs the job ``spec`` describes (see the module doc).

    Raises CheckpointError for weights that are not a detector's checkpoint or do not fit,
    UnknownDetector for a name the catalog lacks, DeviceUnavailable for a GPU this process cannot see.
    """
    if spec.task_type == "dl_ev":
        return _evaluate_job(spec, hooks)
    return _train(spec, hooks, resolve_context(spec.device))
