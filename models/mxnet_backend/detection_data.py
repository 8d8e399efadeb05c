"""The in-memory object-detection dataset and its canonical stored form (npz bytes).

numpy and stdlib only. Every import format (im2rec ``.lst``/``.rec``, Pascal VOC) and the demo
end up here. Images are one size (N×H×W×C uint8, the image imports' resize policy); the boxes
of all images sit in one object table sorted by image.

Box convention, the one place it is said: corners are **normalised to [0, 1]**, x by the image's
width and y by its height (MXNet's detection labels use this, and it survives resizing);
``pixel_boxes`` scales them to the stored images' pixels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from models.datasets.types import DatasetImportError
from models.sources import Source, as_file

DETECTION_DATASET_KIND = "detection"
OBJECT_COLUMNS = ("image", "class", "xmin", "ymin", "xmax", "ymax", "difficult")
BOX_COLUMNS = OBJECT_COLUMNS[1:]  # what ``boxes(i)`` gives: (n, 6)
BOX_FORMAT = "class, xmin, ymin, xmax, ymax, difficult; corners normalised to [0, 1] by width and height"


@dataclass(frozen=True, eq=False)
class DetectionDataset:
    """N images of one size H×W×C and their boxes (see the module doc for the box convention)."""

    images: np.ndarray  # (N, H, W, C) uint8
    objects: np.ndarray  # (M, 7) float32, OBJECT_COLUMNS, sorted by image index
    class_names: tuple[str, ...]
    image_ids: tuple[str, ...]  # where each image came from: VOC id, .lst path, "record 7"
    original_sizes: np.ndarray  # (N, 2) int64: (H, W) as uploaded, before any resize
    image_sets: dict[str, np.ndarray] = field(default_factory=dict)  # VOC ImageSets: name → image indices

    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def n_objects(self) -> int:
        return int(self.objects.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C)."""
        _, h, w, c = self.images.shape
        return int(h), int(w), int(c)

    @cached_property
    def _starts(self) -> np.ndarray:
        """Where each image's rows start in the object table (and where the last ends): found
        once, as every box look-up of an epoch needs them."""
        return np.searchsorted(self.objects[:, 0], np.arange(self.n_images + 1), side="left")

    def boxes(self, index: int) -> np.ndarray:
        """(n, 6) float32 BOX_COLUMNS of image ``index``, normalised; (0, 6) for an empty image."""
        start, end = self._starts[[index, index + 1]]
        return self.objects[start:end, 1:].copy()

    def all_boxes(self) -> list[np.ndarray]:
        """``boxes(i)`` for every image, in order (one pass over the table)."""
        bounds = self._starts
        return [self.objects[bounds[i]:bounds[i + 1], 1:].copy() for i in range(self.n_images)]

    def pixel_boxes(self, index: int) -> np.ndarray:
        """``boxes(index)`` with corners in pixels of the stored image (x by W, y by H)."""
        h, w, _ = self.image_shape
        out = self.boxes(index)
        out[:, 1:5] *= np.array([w, h, w, h], dtype=np.float32)
        return out

    def subset(self, indices) -> "DetectionDataset":
        """The images at ``indices`` (in that order) with their boxes; image sets are dropped."""
        idx = np.asarray(indices, dtype=np.int64)
        per_image = self.all_boxes()
        rows = [np.column_stack([np.full(len(per_image[i]), new, np.float32), per_image[i]])
                for new, i in enumerate(idx)]
        objects = np.concatenate(rows) if rows else np.zeros((0, 7), np.float32)
        return DetectionDataset(self.images[idx], objects.astype(np.float32), self.class_names,
                                tuple(self.image_ids[i] for i in idx), self.original_sizes[idx])

    def to_npz_bytes(self) -> bytes:
        """The canonical stored form (pickle-free)."""
        names = sorted(self.image_sets)
        members = np.zeros((len(names), self.n_images), dtype=bool)
        for row, name in enumerate(names):
            members[row, self.image_sets[name]] = True
        buf = io.BytesIO()
        np.savez_compressed(
            buf, images=self.images.astype(np.uint8), objects=self.objects.astype(np.float32),
            class_names=np.array(self.class_names, dtype=str), image_ids=np.array(self.image_ids, dtype=str),
            original_sizes=self.original_sizes.astype(np.int64),
            set_names=np.array(names, dtype=str), set_members=members)
        return buf.getvalue()

    @classmethod
    def from_npz_bytes(cls, blob: bytes) -> "DetectionDataset":
        """``from_npz`` of the bytes."""
        return cls.from_npz(blob)

    @classmethod
    def from_npz(cls, source: Source) -> "DetectionDataset":
        """Inverse of ``to_npz_bytes`` (bytes, or a seekable file or path read in place), checked
        with ``check_detection_dataset``.

        Raises DatasetImportError when the blob is not a valid stored detection dataset.
        """
        try:
            with np.load(as_file(source), allow_pickle=False) as z:
                members = np.asarray(z["set_members"], dtype=bool)
                ds = cls(
                    images=np.asarray(z["images"]), objects=np.asarray(z["objects"]),
                    class_names=tuple(str(c) for c in z["class_names"]),
                    image_ids=tuple(str(i) for i in z["image_ids"]),
                    original_sizes=np.asarray(z["original_sizes"]).astype(np.int64),
                    image_sets={str(n): np.flatnonzero(m) for n, m in zip(z["set_names"], members)})
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise DatasetImportError([f"not a stored detection dataset: {exc}"]) from exc
        check_detection_dataset(ds)
        return ds


def _image_problems(ds: DetectionDataset) -> list[str]:
    problems = []
    if ds.images.dtype != np.uint8 or ds.images.ndim != 4:
        return [f"images must be N×H×W×C uint8, got {ds.images.dtype} {ds.images.shape}"]
    if ds.images.shape[3] not in (1, 3):
        problems.append(f"images must have 1 or 3 channels, got {ds.images.shape[3]}")
    n = ds.images.shape[0]
    if len(ds.image_ids) != n:
        problems.append(f"image_ids must be one per image: {len(ds.image_ids)} for {n} images")
    if ds.original_sizes.shape != (n, 2) or (n and ds.original_sizes.min() < 1):
        problems.append(f"original_sizes must be N×2 positive (H, W), got {ds.original_sizes.shape}")
    for name, members in ds.image_sets.items():
        if members.size and (members.min() < 0 or members.max() >= n):
            problems.append(f"image set {name!r} names images outside 0..{n - 1}")
    if len(set(ds.class_names)) != len(ds.class_names):
        problems.append("class names must be unique")
    return problems


def _object_problems(ds: DetectionDataset) -> list[str]:
    obj = ds.objects
    if obj.dtype != np.float32 or obj.ndim != 2 or obj.shape[1] != len(OBJECT_COLUMNS):
        return [f"objects must be M×{len(OBJECT_COLUMNS)} float32 {OBJECT_COLUMNS}, got {obj.dtype} {obj.shape}"]
    if not obj.size:
        return []
    image, cls, x0, y0, x1, y1, difficult = obj.T
    checks = {
        "values must be finite": np.isfinite(obj).all(axis=1),
        f"image indices must be integers in 0..{ds.n_images - 1}, sorted":
            (image == np.round(image)) & (image >= 0) & (image < ds.n_images) & np.r_[True, np.diff(image) >= 0],
        f"class ids must be integers in 0..{ds.n_classes - 1}": (cls == np.round(cls)) & (cls >= 0) & (cls < ds.n_classes),
        "corners must satisfy 0 ≤ xmin < xmax ≤ 1 and 0 ≤ ymin < ymax ≤ 1":
            (x0 >= 0) & (x0 < x1) & (x1 <= 1) & (y0 >= 0) & (y0 < y1) & (y1 <= 1),
        "difficult must be 0 or 1": (difficult == 0) | (difficult == 1),
    }
    return [f"objects: {rule} ({int((~ok).sum())} rows break it)" for rule, ok in checks.items() if not ok.all()]


def check_detection_dataset(ds: DetectionDataset) -> None:
    """Raises DatasetImportError listing every way ``ds`` breaks the type's invariants."""
    problems = _image_problems(ds)
    if not problems or ds.images.ndim == 4:
        problems += _object_problems(ds)
    if problems:
        raise DatasetImportError(problems)


def concatenate_detection(parts: list[DetectionDataset]) -> DetectionDataset:
    """One dataset of ``parts``' images in order (same classes and image size), their boxes'
    image indices shifted to match; image sets are dropped."""
    offsets = np.cumsum([0] + [p.n_images for p in parts[:-1]])
    objects = [p.objects + np.array([[o, 0, 0, 0, 0, 0, 0]], np.float32) for p, o in zip(parts, offsets)]
    return DetectionDataset(np.concatenate([p.images for p in parts]), np.concatenate(objects).astype(np.float32),
                            parts[0].class_names, tuple(i for p in parts for i in p.image_ids),
                            np.concatenate([p.original_sizes for p in parts]))
