"""Importing a zip or tar of class-named image folders (``cat/001.png``, ``dog/a.jpg``, ...).

Layout: every image sits in a folder named after its class, directly under the archive root or
under one wrapping folder (``pets/cat/001.png``, as zipping a folder produces). Class order is the
sorted folder names; label i is class i. PNG and JPEG only (by extension, then by content).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.datasets.types import DatasetImportError
from models.mxnet_backend.archive import ArchiveContents, ImportLimits, read_archive
from models.mxnet_backend.decode import ImageProblem, decode_image, unify_sizes
from models.mxnet_backend.images import ImageDataset, check_image_dataset

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PROBLEMS_LISTED = 50


@dataclass
class ImageImport:
    """An accepted import: the dataset and notes for the user (resizes made, files skipped)."""

    dataset: ImageDataset
    notes: list[str] = field(default_factory=list)


def raise_if(problems: list[str]) -> None:
    """Raises DatasetImportError with ``problems`` (the first MAX_PROBLEMS_LISTED, then a count)."""
    if problems:
        shown = problems[:MAX_PROBLEMS_LISTED]
        if len(problems) > MAX_PROBLEMS_LISTED:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS_LISTED} more problems")
        raise DatasetImportError(shown)


def _wrapper_folder(contents: ArchiveContents) -> str:
    """The single folder wrapping everything (with a trailing "/"), or "" when there is none."""
    tops = {name.split("/")[0] for name in list(contents.files) + list(contents.dirs)}
    if len(tops) != 1:
        return ""
    top = next(iter(tops))
    if top in contents.files or not any(name.count("/") >= 2 for name in contents.files):
        return ""
    return top + "/"


def _class_layout(contents: ArchiveContents) -> tuple[dict[str, list[str]], list[str]]:
    """class name → its image member names (sorted), and layout problems."""
    prefix = _wrapper_folder(contents)
    classes: dict[str, list[str]] = {}
    problems: list[str] = []
    for d in contents.dirs:
        rel = d[len(prefix):] if d.startswith(prefix) else None
        if rel and "/" not in rel:
            classes.setdefault(rel, [])
    for name in sorted(contents.files):
        parts = name[len(prefix):].split("/")
        if len(parts) != 2:
            problems.append(f"{name}: images must sit directly in a class folder")
        elif not name.lower().endswith(IMAGE_EXTENSIONS):
            problems.append(f"{name}: not a PNG or JPEG file (by its extension)")
        else:
            classes.setdefault(parts[0], []).append(name)
    return classes, problems


def _class_problems(classes: dict[str, list[str]], limits: ImportLimits) -> list[str]:
    problems = [f"{name}/: class folder holds no images" for name, members in sorted(classes.items()) if not members]
    if len(classes) < 2:
        problems.append(f"a classification dataset needs at least 2 classes, found {len(classes)}: {sorted(classes)}")
    total = sum(len(m) for m in classes.values())
    if total > limits.max_images:
        problems.append(f"{total} images, more than the limit of {limits.max_images}")
    return problems


def _decode_all(contents, members, channels, limits) -> tuple[list[np.ndarray], list[str]]:
    images, problems = [], []
    for name in members:
        try:
            images.append(decode_image(contents.files[name], channels, limits))
        except ImageProblem as exc:
            problems.append(f"{name}: {exc}")
    return images, problems


def import_image_folders(
    blob: bytes,
    *,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> ImageImport:
    """A zip/tar of class folders as an ImageDataset (see the module doc and decode's resize policy).

    Raises DatasetImportError listing every problem found, each naming its member: unsafe or
    oversized archive, file outside a class folder, non-image file, unreadable or truncated or
    oversized image, empty class folder, fewer than two classes, too many images.
    """
    return images_from_folders(read_archive(blob, limits), channels=channels, image_size=image_size, limits=limits)


def images_from_folders(
    contents: ArchiveContents,
    *,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> ImageImport:
    """``import_image_folders`` for an archive already read. Raises as it does."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    classes, problems = _class_layout(contents)
    problems += _class_problems(classes, limits)
    raise_if(problems)
    names = sorted(classes)
    members = [m for c in names for m in classes[c]]
    labels = np.array([i for i, c in enumerate(names) for _ in classes[c]], dtype=np.int64)
    images, problems = _decode_all(contents, members, channels, limits)
    raise_if(problems)
    stack, notes = unify_sizes(members, images, image_size)
    ds = ImageDataset(stack, labels, tuple(names))
    check_image_dataset(ds)
    return ImageImport(ds, notes)
