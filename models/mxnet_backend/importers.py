"""One entry point for every accepted image upload, chosen by what was uploaded:

- one ``.npz``: the canonical stored form (``ImageDataset.to_npz_bytes``);
- a ``.rec`` and a ``.idx`` (two files, or both inside one zip/tar), with an optional class-names
  file (``classes.txt``, ``synset.txt`` or ``labels.txt``);
- one zip/tar of class-named image folders.
"""

from __future__ import annotations

import posixpath

from models.mxnet_backend.archive import ArchiveContents, ImportLimits, read_archive
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.import_folders import ImageImport, images_from_folders, raise_if
from models.mxnet_backend.import_recordio import import_recordio, parse_class_names

CLASS_NAME_FILES = ("classes.txt", "synset.txt", "labels.txt")


def _by_suffix(files: dict[str, bytes], suffix: str) -> list[str]:
    return sorted(name for name in files if name.lower().endswith(suffix))


def _recordio_parts(files: dict[str, bytes]) -> tuple[bytes, bytes, list[str] | None]:
    """The .rec, the .idx and the class names among ``files``. Raises DatasetImportError unless
    there is exactly one of each of .rec and .idx."""
    recs, idxs = _by_suffix(files, ".rec"), _by_suffix(files, ".idx")
    problems = []
    if len(recs) != 1 or len(idxs) != 1:
        problems.append(f"RecordIO needs exactly one .rec and one .idx, got {recs + idxs}")
    raise_if(problems)
    named = [n for n in files if posixpath.basename(n).lower() in CLASS_NAME_FILES]
    classes = parse_class_names(files[named[0]]) if named else None
    return files[recs[0]], files[idxs[0]], classes


def _from_archive(contents: ArchiveContents, channels, image_size, limits) -> ImageImport:
    if _by_suffix(contents.files, ".rec") or _by_suffix(contents.files, ".idx"):
        rec, idx, classes = _recordio_parts(contents.files)
        return import_recordio(rec, idx, class_names=classes, channels=channels, image_size=image_size, limits=limits)
    return images_from_folders(contents, channels=channels, image_size=image_size, limits=limits)


def import_image_upload(
    files: dict[str, bytes],
    *,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> ImageImport:
    """The image dataset in ``files`` (uploaded file name → content), see the module doc.

    Raises DatasetImportError naming every problem (see the importers), or saying the set of
    files is not one of the accepted forms.
    """
    if len(files) == 1:
        name, blob = next(iter(files.items()))
        if name.lower().endswith(".npz"):
            return ImageImport(ImageDataset.from_npz_bytes(blob))
        return _from_archive(read_archive(blob, limits), channels, image_size, limits)
    if _by_suffix(files, ".rec"):
        rec, idx, classes = _recordio_parts(files)
        return import_recordio(rec, idx, class_names=classes, channels=channels, image_size=image_size, limits=limits)
    raise_if([f"expected one archive, one .npz, or a .rec with its .idx; got {sorted(files)}"])
    raise AssertionError("unreachable")
