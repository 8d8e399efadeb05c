"""Turning what a detection importer read (decoded images, their boxes, class names) into the
canonical DetectionDataset, with the checks every format shares: class names, counts, limits,
and the image imports' resize policy (``decode.unify_sizes``; boxes are normalised, so a resize
leaves them as they are)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.mxnet_backend.archive import ImportLimits
from models.mxnet_backend.decode import unify_sizes
from models.mxnet_backend.detection_data import DetectionDataset, check_detection_dataset
from models.mxnet_backend.import_folders import raise_if


@dataclass
class DetectionImport:
    """An accepted detection import: the dataset and notes for the user."""

    dataset: DetectionDataset
    notes: list[str] = field(default_factory=list)


@dataclass
class ReadImage:
    """One image as an importer read it: its id, pixels and boxes (n×6, normalised)."""

    image_id: str
    pixels: np.ndarray  # H×W×C uint8
    boxes: np.ndarray  # (n, 6) class, xmin, ymin, xmax, ymax, difficult


def count_problems(n_images: int, n_boxes: int, limits: ImportLimits) -> list[str]:
    problems = []
    if n_images == 0:
        problems.append("the upload holds no images")
    elif n_boxes == 0:
        problems.append(f"none of the {n_images} images has a box: a detection dataset needs at least one")
    if n_images > limits.max_images:
        problems.append(f"{n_images} images, more than the limit of {limits.max_images}")
    if n_boxes > limits.max_boxes:
        problems.append(f"{n_boxes} boxes, more than the limit of {limits.max_boxes}")
    return problems


def id_class_names(boxes: list[np.ndarray], given: list[str] | None) -> tuple[tuple[str, ...], list[str]]:
    """Class names for labels that carry class ids: ``given`` (line i names id i), else "0", "1",
    … up to the largest id; and notes naming classes no box uses. Ids beyond ``given`` are the
    label parser's problems, not checked again here."""
    ids = np.concatenate([b[:, 0] for b in boxes]).astype(np.int64) if boxes else np.zeros(0, np.int64)
    top = int(ids.max()) if ids.size else -1
    names = tuple(given) if given is not None else tuple(str(i) for i in range(top + 1))
    counts = np.bincount(ids[ids < len(names)], minlength=len(names))
    unused = [n for n, c in zip(names, counts) if c == 0]
    notes = [f"{len(unused)} classes have no boxes: {', '.join(unused[:10])}"] if unused else []
    return names, notes


def assemble(read: list[ReadImage], class_names: tuple[str, ...], *, image_size: tuple[int, int] | None,
             limits: ImportLimits, image_sets: dict[str, list[int]] | None = None) -> DetectionImport:
    """The canonical dataset of ``read`` (in that order). Raises DatasetImportError for an empty
    upload, one without any box, or one past the image or box limits."""
    n_boxes = sum(len(r.boxes) for r in read)
    raise_if(count_problems(len(read), n_boxes, limits))
    ids = [r.image_id for r in read]
    stack, notes = unify_sizes(ids, [r.pixels for r in read], image_size)
    rows = [np.column_stack([np.full(len(r.boxes), i), r.boxes]) for i, r in enumerate(read)]
    ds = DetectionDataset(
        images=stack, objects=np.concatenate(rows).astype(np.float32), class_names=class_names,
        image_ids=tuple(ids), original_sizes=np.array([r.pixels.shape[:2] for r in read], dtype=np.int64),
        image_sets={k: np.asarray(sorted(v), dtype=np.int64) for k, v in (image_sets or {}).items()})
    check_detection_dataset(ds)
    empty = sum(1 for r in read if not len(r.boxes))
    if empty:
        notes.append(f"{empty} of {len(read)} images have no boxes (kept: they teach the background)")
    return DetectionImport(ds, notes)
