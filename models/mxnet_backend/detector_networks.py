"""Builds the catalog's detectors (``contracts.catalog.DETECTION_MODELS``) with GluonCV's
``get_ssd``, for the (square) input size they are fed.

GluonCV's presets fix the anchors' steps for one input size, and ``ssd_300_mobilenet0.25``'s
are VGG's (8, 16, 32, …) though its first feature map has stride 16: its anchors cover only the
top-left half of the image (centres from 4 to 160 pixels of 300). Here each detector keeps its
preset's backbone, feature layers, filters and aspect ratios, and its anchors are laid out for
the size fed: each layer's step is that size over its feature map's side, and the anchor sizes
are the preset's scaled from its base size.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import mxnet as mx
from gluoncv.model_zoo.ssd.ssd import get_ssd
from mxnet import autograd

from contracts.catalog import DETECTION_MODELS, ModelInfo, find_model


class UnknownDetector(ValueError):
    pass


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    min_size: int
    default_size: int


@dataclass(frozen=True)
class _Preset:
    """GluonCV's preset of one detector (``gluoncv/model_zoo/ssd/presets.py``)."""

    backbone: str
    base_size: int
    features: tuple[str, ...]
    filters: tuple[int, ...]
    sizes: tuple[float, ...]


_RATIOS = [[1, 2, 0.5]] + [[1, 2, 0.5, 3, 1.0 / 3]] * 3 + [[1, 2, 0.5]] * 2
_PRESETS = {
    "ssd_300_mobilenet0.25_custom": _Preset("mobilenet0.25", 300, ("relu22_fwd", "relu26_fwd"),
                                            (256, 256, 128, 128), (21, 45, 99, 153, 207, 261, 315)),
    "ssd_512_mobilenet1.0_custom": _Preset("mobilenet1.0", 512, ("relu22_fwd", "relu26_fwd"), (512, 512, 256, 256),
                                           (51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492)),
    "ssd_512_resnet50_v1_custom": _Preset("resnet50_v1", 512, ("stage3_activation5", "stage4_activation2"),
                                          (512, 512, 256, 256), (51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72)),
}


def find_detector(name: str) -> DetectorInfo:
    """The detector registered as ``name`` (or an alias). Raises UnknownDetector."""
    info: ModelInfo | None = find_model(name)
    if info is None or info.input != "detection":
        known = ", ".join(m.name for m in DETECTION_MODELS)
        raise UnknownDetector(f"unknown detector {name!r}; known: {known}")
    return DetectorInfo(info.name, info.image.min_size, info.image.default_size)


def _ssd(preset: _Preset, size: int, steps: list[float], class_names):  # noqa: ANN202 - a GluonCV SSD
    scale = size / preset.base_size
    with warnings.catch_warnings():
        # GluonCV wraps the backbone's feature layers in a SymbolBlock before any input is seen,
        # and MXNet warns that it cannot type the input yet; the first call types it.
        warnings.filterwarnings("ignore", "Cannot decide type for the following arguments", UserWarning)
        return get_ssd(preset.backbone, size, features=list(preset.features), filters=list(preset.filters),
                       sizes=[s * scale for s in preset.sizes], ratios=_RATIOS, steps=steps,
                       classes=list(class_names), dataset="", pretrained_base=False)


@lru_cache(maxsize=32)
def _feature_sides(preset: _Preset, size: int) -> tuple[int, ...]:
    """The side of each feature map the detector's heads see for a ``size``² input (found by
    running a probe network once per preset and size)."""
    probe = _ssd(preset, size, [1.0] * len(_RATIOS), ["probe"])
    probe.initialize()
    with autograd.train_mode():
        return tuple(int(f.shape[2]) for f in probe.features(mx.nd.zeros((1, 3, size, size))))


def build_detector(name: str, class_names, size: int):  # noqa: ANN201 - a GluonCV SSD
    """The detector for ``class_names`` fed ``size``×``size`` images, uninitialised, its
    backbone from random weights, its anchors laid out for that size (see the module doc)."""
    preset = _PRESETS[find_detector(name).name]
    steps = [size / side for side in _feature_sides(preset, size)]
    return _ssd(preset, size, steps, class_names)
