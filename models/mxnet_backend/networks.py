"""The MXNet networks by name, with the input each expects, and how a batch is fitted to it.

The networks and their inputs are ``contracts.catalog.IMAGE_MODELS``. Model-zoo networks are
built with ``pretrained=False`` (nothing is downloaded); they take 3-channel images and have a
smallest usable size. ``small-cnn`` is for small images (MNIST-like, 1 or 3
channels, 16 to 64 pixels). A dataset whose images have 1 channel is repeated to 3 for a zoo
network; images smaller than a network's ``min_size`` are upsampled (bilinear) batch by batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import vision

from contracts.catalog import IMAGE_MODELS, ModelInfo, image_shape_problems


@dataclass(frozen=True)
class MxNetInfo:
    """A catalog entry's name and aliases with the input its network takes."""

    name: str  # the model-zoo name, or "small-cnn"
    aliases: tuple[str, ...]
    channels: int | None  # None: any of 1 or 3
    default_size: int
    min_size: int  # smaller inputs are upsampled to this
    description: str
    any_size: bool = True
    max_size: int = 4096

    @classmethod
    def of(cls, entry: ModelInfo) -> MxNetInfo:
        return cls(entry.name, entry.aliases, description=entry.description, **asdict(entry.image))

    def public(self) -> dict:
        return {**asdict(self), "backend": "mxnet", "input": "image"}


MX_NETWORKS: tuple[MxNetInfo, ...] = tuple(MxNetInfo.of(entry) for entry in IMAGE_MODELS)


class UnknownNetwork(ValueError):
    """No MXNet network is registered under that name."""


def find_network(name: str) -> MxNetInfo:
    """The network registered under ``name`` or an alias (any case). Raises UnknownNetwork."""
    wanted = str(name).strip().lower()
    for info in MX_NETWORKS:
        if wanted == info.name or wanted in info.aliases:
            return info
    raise UnknownNetwork(f"unknown MXNet network {name!r}; known: {[i.name for i in MX_NETWORKS]}")


def input_problems(info: MxNetInfo, image_shape: tuple[int, int, int]) -> list[str]:
    """Why images of (H, W, C) cannot feed ``info``; empty when they can (after fitting)."""
    h, w, c = image_shape
    return image_shape_problems(info.name, info.max_size, c, h, w)


def _small_cnn(classes: int) -> nn.HybridBlock:
    net = nn.HybridSequential()
    for width in (32, 64):
        net.add(nn.Conv2D(width, kernel_size=3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
                nn.MaxPool2D(pool_size=2))
    net.add(nn.GlobalAvgPool2D(), nn.Flatten(), nn.Dense(128, activation="relu"), nn.Dropout(0.3),
            nn.Dense(classes))
    return net


def build_network(name: str, classes: int) -> nn.HybridBlock:
    """An uninitialised network for ``classes`` outputs. Raises UnknownNetwork, or ValueError when
    ``classes`` < 2."""
    if classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {classes}")
    info = find_network(name)
    if info.name == "small-cnn":
        return _small_cnn(classes)
    return vision.get_model(info.name, pretrained=False, classes=classes)


def fit_batch(info: MxNetInfo, x: mx.nd.NDArray) -> mx.nd.NDArray:
    """An N×C×H×W float batch made fit for ``info``: 1 channel repeated to 3 where it needs 3,
    upsampled (bilinear) to ``min_size`` where smaller."""
    if info.channels == 3 and x.shape[1] == 1:
        x = mx.nd.repeat(x, repeats=3, axis=1)
    h, w = x.shape[2], x.shape[3]
    if min(h, w) < info.min_size:
        scale = info.min_size / min(h, w)
        x = mx.nd.contrib.BilinearResize2D(x, height=round(h * scale), width=round(w * scale))
    return x
