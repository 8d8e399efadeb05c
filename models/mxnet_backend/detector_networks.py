"""Builds the catalog's detectors (``contracts.catalog.DETECTION_MODELS``) with GluonCV."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from gluoncv import model_zoo

from contracts.catalog import DETECTION_MODELS, ModelInfo, find_model


class UnknownDetector(ValueError):
    pass


@dataclass(frozen=True)
class DetectorInfo:
    name: str
    min_size: int
    default_size: int


def find_detector(name: str) -> DetectorInfo:
    """The detector registered as ``name`` (or an alias). Raises UnknownDetector."""
    info: ModelInfo | None = find_model(name)
    if info is None or info.input != "detection":
        known = ", ".join(m.name for m in DETECTION_MODELS)
        raise UnknownDetector(f"unknown detector {name!r}; known: {known}")
    return DetectorInfo(info.name, info.image.min_size, info.image.default_size)


def build_detector(name: str, class_names) -> "model_zoo.ssd.SSD":
    """The detector for ``class_names``, uninitialised, its backbone from random weights."""
    with warnings.catch_warnings():
        # GluonCV wraps the backbone's feature layers in a SymbolBlock before any input is seen,
        # and MXNet warns that it cannot type the input yet; the first call types it.
        warnings.filterwarnings("ignore", "Cannot decide type for the following arguments", UserWarning)
        return model_zoo.get_model(find_detector(name).name, classes=list(class_names), pretrained_base=False)
