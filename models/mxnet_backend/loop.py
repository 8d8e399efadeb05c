"""One training epoch and one evaluation pass, in Gluon, over an in-memory ImageDataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from models.mxnet_backend.fitting import DataShape, fit_images
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.networks import MxNetInfo, fit_batch

LOSS = gluon.loss.SoftmaxCrossEntropyLoss()


@dataclass(frozen=True)
class PassResult:
    loss: float  # mean cross-entropy per image
    accuracy: float
    n: int


@dataclass(frozen=True)
class EvalResult:
    loss: float
    accuracy: float
    n: int
    confusion: list[list[int]]  # [true][predicted] counts
    class_names: tuple[str, ...]
    probabilities: np.ndarray | None = None  # (n, classes) softmax, in the dataset's order; not public

    def public(self) -> dict:
        return {"loss": self.loss, "accuracy": self.accuracy, "n": self.n,
                "confusion_matrix": self.confusion, "class_names": list(self.class_names)}


def to_input(images: np.ndarray, info: MxNetInfo, ctx: mx.Context, target: DataShape | None = None) -> mx.nd.NDArray:
    """N×H×W×C uint8 → fitted to ``target`` (C, H, W) as ImageIter would (fitting.py) → N×C×H×W
    float32 in [−0.5, 0.5], fitted to the network, on ``ctx``."""
    images = fit_images(images, target)
    x = mx.nd.array(images.transpose(0, 3, 1, 2), ctx=ctx, dtype="float32") / 255.0 - 0.5
    return fit_batch(info, x)


def batches(ds: ImageDataset, batch_size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Index arrays of at most ``batch_size``, shuffled by ``rng`` (in order when None)."""
    order = np.arange(ds.n_images) if rng is None else rng.permutation(ds.n_images)
    for start in range(0, ds.n_images, batch_size):
        yield order[start : start + batch_size]


def train_epoch(net, trainer: gluon.Trainer, info: MxNetInfo, ds: ImageDataset, batch_size: int,
                rng: np.random.Generator | None, ctx: mx.Context, should_stop: Callable[[], bool],
                target: DataShape | None = None) -> PassResult | None:
    """One pass of SGD over ``ds`` (its images fitted to ``target``); None when ``should_stop()``
    (polled before every batch) said so part-way."""
    total_loss, correct = 0.0, 0
    for idx in batches(ds, batch_size, rng):
        if should_stop():
            return None
        x = to_input(ds.images[idx], info, ctx, target)
        y = mx.nd.array(ds.labels[idx], ctx=ctx, dtype="float32")
        with autograd.record():
            out = net(x)
            loss = LOSS(out, y)
        loss.backward()
        trainer.step(len(idx))
        total_loss += float(loss.sum().asscalar())
        correct += int((out.argmax(axis=1) == y).sum().asscalar())
    return PassResult(total_loss / ds.n_images, correct / ds.n_images, ds.n_images)


def evaluate_dataset(net, info: MxNetInfo, ds: ImageDataset, batch_size: int, ctx: mx.Context,
                     target: DataShape | None = None) -> EvalResult:
    """Loss, accuracy and confusion matrix of ``net`` on ``ds`` (its images fitted to ``target``;
    inference mode, no gradients)."""
    k = ds.n_classes
    confusion = np.zeros((k, k), dtype=np.int64)
    total_loss, probabilities = 0.0, []
    for idx in batches(ds, batch_size, None):
        out = net(to_input(ds.images[idx], info, ctx, target))
        y = ds.labels[idx]
        total_loss += float(LOSS(out, mx.nd.array(y, ctx=ctx)).sum().asscalar())
        probabilities.append(mx.nd.softmax(out, axis=1).asnumpy())
        np.add.at(confusion, (y, probabilities[-1].argmax(axis=1)), 1)
    n = ds.n_images
    return EvalResult(total_loss / n, float(np.trace(confusion)) / n, n, confusion.tolist(), ds.class_names,
                      np.concatenate(probabilities).astype(np.float64))
