"""The in-memory image dataset, its canonical stored form (npz bytes) and its metadata.

numpy and stdlib only. The stored form is pickle-free: ``images`` (N×H×W×C uint8),
``labels`` (N int64, indices into ``class_names``) and ``class_names`` (N strings).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np

from models.datasets.types import DatasetImportError
from models.sources import Source, as_file

IMAGE_DATASET_KIND = "image"


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """N images of one size H×W with C channels (1 or 3), each with a class label."""

    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray  # (N,) int64 in range(len(class_names))
    class_names: tuple[str, ...]

    @property
    def n_images(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C)."""
        _, h, w, c = self.images.shape
        return int(h), int(w), int(c)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices) -> "ImageDataset":
        """The images at ``indices`` (in that order), sharing class names."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDataset(self.images[idx], self.labels[idx], self.class_names)

    def to_npz_bytes(self) -> bytes:
        """The canonical stored form."""
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            images=self.images.astype(np.uint8),
            labels=self.labels.astype(np.int64),
            class_names=np.array(self.class_names, dtype=str),
        )
        return buf.getvalue()

    @classmethod
    def from_npz_bytes(cls, blob: bytes) -> "ImageDataset":
        """``from_npz`` of the bytes."""
        return cls.from_npz(blob)

    @classmethod
    def from_npz(cls, source: Source) -> "ImageDataset":
        """Inverse of ``to_npz_bytes`` (bytes, or a seekable file or path read in place); the
        result is checked with ``check_image_dataset``.

        Raises DatasetImportError when the blob is not a valid stored image dataset.
        """
        try:
            with np.load(as_file(source), allow_pickle=False) as z:
                ds = cls(
                    images=np.asarray(z["images"]),
                    labels=np.asarray(z["labels"]).astype(np.int64),
                    class_names=tuple(str(c) for c in z["class_names"]),
                )
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetImportError([f"not a stored image dataset: {exc}"]) from exc
        check_image_dataset(ds)
        return ds


def check_image_dataset(ds: ImageDataset) -> None:
    """Raises DatasetImportError listing every way ``ds`` breaks the type's invariants."""
    problems: list[str] = []
    if ds.images.dtype != np.uint8 or ds.images.ndim != 4:
        problems.append(f"images must be N×H×W×C uint8, got {ds.images.dtype} {ds.images.shape}")
    elif ds.images.shape[3] not in (1, 3):
        problems.append(f"images must have 1 or 3 channels, got {ds.images.shape[3]}")
    if ds.labels.shape != (ds.images.shape[0],):
        problems.append(f"labels must be one per image: {ds.labels.shape} for {ds.images.shape[0]} images")
    elif ds.labels.size and (ds.labels.min() < 0 or ds.labels.max() >= len(ds.class_names)):
        problems.append(f"labels must lie in 0..{len(ds.class_names) - 1}")
    if len(set(ds.class_names)) != len(ds.class_names):
        problems.append("class names must be unique")
    if problems:
        raise DatasetImportError(problems)


def arrays_checksum(images: np.ndarray, labels: np.ndarray, class_names) -> str:
    """sha256 over an image set's arrays (its labels: classes, or a detection set's object
    table) and class names, not over npz bytes, whose zip timestamps vary."""
    h = hashlib.sha256()
    h.update(repr(images.shape).encode())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels).tobytes())
    h.update("\0".join(class_names).encode("utf-8"))
    return h.hexdigest()


def content_checksum(ds: ImageDataset) -> str:
    return arrays_checksum(ds.images, ds.labels.astype(np.int64), ds.class_names)


def image_metadata(ds: ImageDataset) -> dict:
    """JSON-ready facts the API decides from (it never loads the arrays)."""
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    h, w, c = ds.image_shape
    return {
        "kind": IMAGE_DATASET_KIND,
        "n_images": ds.n_images,
        "image_shape": [h, w, c],
        "channels": c,
        "classes": list(ds.class_names),
        "n_classes": ds.n_classes,
        "class_counts": {name: int(n) for name, n in zip(ds.class_names, counts)},
        "checksum": content_checksum(ds),
    }
