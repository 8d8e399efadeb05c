"""Importing MXNet detection data as ``im2rec`` makes it (the label format: ``detection_labels``):

- a ``.rec`` and its ``.idx``: each record's IRHeader carries the label (``flag`` = its length);
  with a ``.lst`` beside them, the labels are the ``.lst``'s, keyed by index, as ImageDetIter
  reads them when given both (then every ``.idx`` key must have a ``.lst`` line and the reverse);
- a ``.lst`` with its images in one archive: each line's path is relative to the ``.lst``'s folder.

Class names: an optional names file (line i names class id i), else "0", "1", … .
"""

from __future__ import annotations

import posixpath
import struct
import tempfile
from pathlib import Path

import mxnet as mx

from models.mxnet_backend.archive import ArchiveContents, ImportLimits
from models.mxnet_backend.decode import ImageProblem, decode_image
from models.mxnet_backend.detection_assemble import DetectionImport, ReadImage, assemble, id_class_names
from models.mxnet_backend.detection_labels import LstLine, parse_detection_label, parse_lst
from models.mxnet_backend.import_folders import raise_if
from models.mxnet_backend.import_recordio import parse_index


def _check_upload_size(total: int, limits: ImportLimits) -> None:
    if total > limits.max_upload_bytes:
        raise_if([f"upload is {total} bytes, more than the limit of {limits.max_upload_bytes}"])


def _key_problems(idx_keys: list[int], lst: list[LstLine]) -> list[str]:
    listed = {line.key for line in lst}
    problems = [f"record {k}: the .idx lists it but the .lst has no line with index {k}" for k in idx_keys
                if k not in listed]
    indexed = set(idx_keys)
    problems += [f".lst line {line.number}: index {line.key} is not in the .idx" for line in lst
                 if line.key not in indexed]
    return problems


def _header_label(header, key: int):
    """The record's label array. Raises ImageProblem for a scalar (classification) label."""
    if header.flag <= 0:
        raise ImageProblem(f"record {key}: has a single class label {float(header.label):g}; a detection "
                           "record's label is [header width, object width, objects…]")
    return header.label


def _read_one(reader, key, lst_line, n_classes, channels, limits) -> tuple[ReadImage | None, list[str]]:
    where = f".lst line {lst_line.number} (record {key})" if lst_line else f"record {key}"
    try:
        header, payload = mx.recordio.unpack(reader.read_idx(key))
        raw = lst_line.label if lst_line else _header_label(header, key)
        parsed, problems = parse_detection_label(raw, where, n_classes)
        pixels = decode_image(payload, channels, limits)
    except ImageProblem as exc:
        return None, [str(exc) if str(exc).startswith("record ") else f"record {key}: {exc}"]
    except (mx.base.MXNetError, struct.error) as exc:
        return None, [f"record {key}: unreadable record ({type(exc).__name__})"]
    return (None if problems else ReadImage(f"record {key}", pixels, parsed.boxes)), problems


def _read_records(rec: bytes, entries, lst: dict[int, LstLine] | None, n_classes, channels, limits):
    read, problems = [], []
    with tempfile.TemporaryDirectory(prefix="trainyard-det-rec-") as tmp:
        rec_path, idx_path = Path(tmp, "data.rec"), Path(tmp, "data.idx")
        rec_path.write_bytes(rec)
        idx_path.write_text("".join(f"{k}\t{o}\n" for k, o in entries))
        reader = mx.recordio.MXIndexedRecordIO(str(idx_path), str(rec_path), "r")
        try:
            for key, _ in entries:
                image, found = _read_one(reader, key, lst.get(key) if lst else None, n_classes, channels, limits)
                problems += found
                if image is not None:
                    read.append(image)
        finally:
            reader.close()
    return read, problems


def import_detection_recordio(
    rec: bytes, idx: bytes, *, lst: bytes | None = None, class_names: list[str] | None = None,
    channels: int = 3, image_size: tuple[int, int] | None = None, limits: ImportLimits = ImportLimits(),
) -> DetectionImport:
    """A ``.rec`` + ``.idx`` (+ ``.lst``) as a DetectionDataset.

    Raises DatasetImportError listing every problem, each naming the ``.idx``/``.lst`` line or
    the record key and object: bad index or list, keys the two disagree on, scalar labels, bad
    label headers, unknown class ids, boxes outside the image or with no area, unreadable images,
    no images or no boxes at all, limits passed.
    """
    _check_upload_size(len(rec) + len(idx) + len(lst or b""), limits)
    entries, problems = parse_index(idx, len(rec), rec)
    lines, lst_problems = parse_lst(lst) if lst is not None else ([], [])
    problems += lst_problems + (_key_problems([k for k, _ in entries], lines) if lst is not None else [])
    if len(entries) > limits.max_images:
        problems.append(f"{len(entries)} records, more than the limit of {limits.max_images}")
    raise_if(problems)
    n_classes = None if class_names is None else len(class_names)
    by_key = {line.key: line for line in lines} if lst is not None else None
    read, problems = _read_records(rec, entries, by_key, n_classes, channels, limits)
    raise_if(problems)
    names, notes = id_class_names([r.boxes for r in read], class_names)
    result = assemble(read, names, image_size=image_size, limits=limits)
    result.notes[:0] = notes + (["labels read from the .lst (as ImageDetIter does given both)"] if lst else [])
    return result


def _read_listed(contents: ArchiveContents, lst_name: str, line: LstLine, n_classes, channels, limits):
    folder = posixpath.dirname(lst_name)
    member = posixpath.normpath(posixpath.join(folder, line.path))
    where = f".lst line {line.number} ({line.path})"
    parsed, problems = parse_detection_label(line.label, where, n_classes)
    if member not in contents.files:
        return None, problems + [f"{where}: no such image in the archive (looked for {member})"]
    try:
        pixels = decode_image(contents.files[member], channels, limits)
    except ImageProblem as exc:
        return None, problems + [f"{member}: {exc}"]
    return (None if problems else ReadImage(line.path, pixels, parsed.boxes)), problems


def import_detection_lst(
    contents: ArchiveContents, lst_name: str, *, class_names: list[str] | None = None, channels: int = 3,
    image_size: tuple[int, int] | None = None, limits: ImportLimits = ImportLimits(),
) -> DetectionImport:
    """The ``.lst`` named ``lst_name`` in an archive, with the images it lists from the same
    archive. Raises DatasetImportError as ``import_detection_recordio`` does, and for listed
    images missing from the archive."""
    lines, problems = parse_lst(contents.files[lst_name])
    if len(lines) > limits.max_images:
        problems.append(f"{len(lines)} .lst lines, more than the limit of {limits.max_images}")
    raise_if(problems)
    n_classes = None if class_names is None else len(class_names)
    read = []
    for line in lines:
        image, found = _read_listed(contents, lst_name, line, n_classes, channels, limits)
        problems += found
        if image is not None:
            read.append(image)
    raise_if(problems)
    names, notes = id_class_names([r.boxes for r in read], class_names)
    result = assemble(read, names, image_size=image_size, limits=limits)
    result.notes[:0] = notes
    return result

