"""Importing MXNet RecordIO image data: a ``.rec`` file and its ``.idx`` index, as MXServer used
(what ``im2rec`` writes: one record per image, a scalar class label in the header, PNG/JPEG bytes).

Class names come from an optional text file (one name a line, line i naming label i); without
one the classes are named "0", "1", ... up to the largest label. The index is checked in Python
(integer keys, offsets inside the ``.rec`` pointing at a record) before MXNet reads anything.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np

from models.mxnet_backend.archive import ImportLimits
from models.mxnet_backend.decode import ImageProblem, decode_image, unify_sizes
from models.mxnet_backend.images import ImageDataset, check_image_dataset
from models.mxnet_backend.import_folders import ImageImport, raise_if

RECORDIO_MAGIC = struct.pack("<I", 0xCED7230A)


def parse_index(idx: bytes, rec_size: int, rec_head: bytes | None = None) -> tuple[list[tuple[int, int]], list[str]]:
    """(key, offset) pairs from ``.idx`` text, and one problem per bad line (naming its number).

    ``rec_head`` is the ``.rec`` content, used to check that each offset starts a record.
    """
    entries, problems, seen = [], [], set()
    for number, line in enumerate(idx.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            key, offset = int(fields[0]), int(fields[-1])
        except ValueError:
            problems.append(f".idx line {number}: expected 'key<TAB>offset', got {line[:60]!r}")
            continue
        if len(fields) != 2 or key in seen or not 0 <= offset < rec_size:
            problems.append(f".idx line {number}: bad entry (duplicate key or offset outside the .rec)")
        elif rec_head is not None and rec_head[offset : offset + 4] != RECORDIO_MAGIC:
            problems.append(f".idx line {number}: offset {offset} does not start a record")
        else:
            seen.add(key)
            entries.append((key, offset))
    if not entries and not problems:
        problems.append(".idx lists no records")
    return entries, problems


def _label_of(header, key: int) -> int:
    """The record's scalar class label. Raises ImageProblem for vector or non-integer labels."""
    if header.flag > 0:
        raise ImageProblem(f"record {key}: has a {header.flag}-value label; only class labels are supported")
    label = float(header.label)
    if label < 0 or label != int(label):
        raise ImageProblem(f"record {key}: label {label} is not a class index")
    return int(label)


def _read_records(rec_path: Path, idx_path: Path, keys, channels, limits):
    images, labels, names, problems = [], [], [], []
    reader = mx.recordio.MXIndexedRecordIO(str(idx_path), str(rec_path), "r")
    try:
        for key in keys:
            try:
                header, payload = mx.recordio.unpack(reader.read_idx(key))
                label = _label_of(header, key)
                images.append(decode_image(payload, channels, limits))
            except ImageProblem as exc:
                problems.append(str(exc) if str(exc).startswith("record ") else f"record {key}: {exc}")
                continue
            except (mx.base.MXNetError, struct.error) as exc:
                problems.append(f"record {key}: unreadable record ({type(exc).__name__})")
                continue
            labels.append(label)
            names.append(f"record {key}")
    finally:
        reader.close()
    return images, labels, names, problems


def _class_names(labels: list[int], given: list[str] | None) -> tuple[tuple[str, ...], list[str]]:
    top = max(labels) if labels else -1
    names = tuple(given) if given is not None else tuple(str(i) for i in range(top + 1))
    problems = []
    if top >= len(names):
        problems.append(f"label {top} has no class name ({len(names)} names given)")
        return names, problems
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(names))
    problems += [f"class {n!r} (label {i}) has no records" for i, n in enumerate(names) if counts[i] == 0]
    if len(names) < 2:
        problems.append(f"a classification dataset needs at least 2 classes, found {len(names)}")
    return names, problems


def parse_class_names(text: bytes) -> list[str]:
    """One class name a line (blank lines at the end ignored). Raises DatasetImportError on
    duplicates or blank names."""
    names = [line.strip() for line in text.decode("utf-8", "replace").rstrip().splitlines()]
    problems = [f"class names line {i}: blank" for i, n in enumerate(names, 1) if not n]
    if len(set(names)) != len(names):
        problems.append("class names file repeats a name")
    raise_if(problems)
    return names


def import_recordio(
    rec: bytes,
    idx: bytes,
    *,
    class_names: list[str] | None = None,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> ImageImport:
    """A ``.rec`` + ``.idx`` pair as an ImageDataset (resize policy: see ``decode``).

    Raises DatasetImportError listing every problem, each naming the ``.idx`` line or record key:
    oversized upload, bad index, unreadable record or image, vector label, label without a class
    name, a class with no records, fewer than two classes, too many records.
    """
    if len(rec) + len(idx) > limits.max_upload_bytes:
        raise_if([f"upload is {len(rec) + len(idx)} bytes, more than the limit of {limits.max_upload_bytes}"])
    entries, problems = parse_index(idx, len(rec), rec)
    if len(entries) > limits.max_images:
        problems.append(f"{len(entries)} records, more than the limit of {limits.max_images}")
    raise_if(problems)
    with tempfile.TemporaryDirectory(prefix="trainyard-rec-") as tmp:
        rec_path, idx_path = Path(tmp, "data.rec"), Path(tmp, "data.idx")
        rec_path.write_bytes(rec)
        idx_path.write_text("".join(f"{k}\t{o}\n" for k, o in entries))
        images, labels, names, problems = _read_records(rec_path, idx_path, [k for k, _ in entries], channels, limits)
    raise_if(problems)
    classes, problems = _class_names(labels, class_names)
    raise_if(problems)
    stack, notes = unify_sizes(names, images, image_size)
    ds = ImageDataset(stack, np.asarray(labels, dtype=np.int64), classes)
    check_image_dataset(ds)
    return ImageImport(ds, notes)
