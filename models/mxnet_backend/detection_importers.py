"""One entry point for every accepted detection upload (``kind=detection``), chosen by what was
uploaded:

- one ``.npz``: the canonical stored form (``DetectionDataset.to_npz_bytes``);
- a ``.rec`` and its ``.idx``, optionally a ``.lst`` and a class-names file, as separate files
  or inside one zip/tar;
- one zip/tar holding a ``.lst`` and the images it lists (optionally a class-names file);
- one zip/tar of a Pascal VOC folder (Annotations/ + JPEGImages/, optionally ImageSets/Main/).

The class-names file is ``classes.txt``, ``synset.txt`` or ``labels.txt`` (as for image uploads).
"""

from __future__ import annotations

import posixpath

from models.mxnet_backend.archive import ArchiveContents, ImportLimits, read_archive
from models.mxnet_backend.detection_assemble import DetectionImport
from models.mxnet_backend.detection_data import DetectionDataset
from models.mxnet_backend.import_detection_rec import import_detection_lst, import_detection_recordio
from models.mxnet_backend.import_folders import raise_if
from models.mxnet_backend.import_recordio import parse_class_names
from models.mxnet_backend.import_voc import import_voc, voc_root
from models.mxnet_backend.importers import CLASS_NAME_FILES

ACCEPTED = ("one .npz, a .rec with its .idx (and optionally a .lst and classes.txt), or one zip/tar "
            "holding those, a .lst with its images, or a Pascal VOC folder (Annotations/ and JPEGImages/)")


def _named(files: dict[str, bytes], suffix: str) -> list[str]:
    return sorted(n for n in files if n.lower().endswith(suffix))


def _one_or_none(files: dict[str, bytes], suffix: str) -> str | None:
    """The one file ending in ``suffix``, or None. Raises DatasetImportError for several."""
    named = _named(files, suffix)
    if len(named) > 1:
        raise_if([f"expected at most one {suffix} file, got {named}"])
    return named[0] if named else None


def _class_names(files: dict[str, bytes]) -> list[str] | None:
    named = sorted(n for n in files if posixpath.basename(n).lower() in CLASS_NAME_FILES)
    if len(named) > 1:
        raise_if([f"expected at most one class-names file, got {named}"])
    return parse_class_names(files[named[0]]) if named else None


def _from_files(files: dict[str, bytes], contents: ArchiveContents | None, options: dict) -> DetectionImport:
    rec, idx, lst = (_one_or_none(files, s) for s in (".rec", ".idx", ".lst"))
    classes = _class_names(files)
    if rec or idx:
        if not (rec and idx):
            raise_if([f"RecordIO needs one .rec and one .idx, got {[n for n in (rec, idx) if n]}"])
        return import_detection_recordio(files[rec], files[idx], lst=files[lst] if lst else None,
                                         class_names=classes, **options)
    if lst and contents is not None:
        return import_detection_lst(contents, lst, class_names=classes, **options)
    root = voc_root(contents) if contents is not None else None
    if root is not None:
        return import_voc(contents, root, class_names=classes, **options)
    raise_if([f"not a detection upload: expected {ACCEPTED}; got {sorted(files)[:10]}"])
    raise AssertionError("unreachable")


def import_detection_upload(
    files: dict[str, bytes], *, channels: int = 3, image_size: tuple[int, int] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> DetectionImport:
    """The detection dataset in ``files`` (uploaded file name → content), see the module doc.

    Raises DatasetImportError naming every problem (see the importers), or saying the set of
    files is not one of the accepted forms.
    """
    options = {"channels": channels, "image_size": image_size, "limits": limits}
    if len(files) == 1:
        name, blob = next(iter(files.items()))
        if name.lower().endswith(".npz"):
            return DetectionImport(DetectionDataset.from_npz_bytes(blob))
        contents = read_archive(blob, limits)
        return _from_files(contents.files, contents, options)
    return _from_files(files, None, options)
