"""Import a connectome dataset from an ``.npz`` archive (ours or a user's).

Arrays: ``conn`` (N×R×R), ``labels`` (N; whole numbers or strings), optional ``features``
(N×R×F), ``subjects`` (N strings; default ``sub-0001``…), ``class_names`` (then ``labels`` are
indices into it, as ``ConnectomeDataset.to_npz_bytes`` stores them) and ``feature_names``
(default ``feature_1``…) and ``groups`` (N non-empty strings: each subject's site, scanner or family;
splits keep a group on one side). Nothing is unpickled: each ``.npy`` member is parsed from its header and
read with ``np.frombuffer`` after checking that the header's shape matches the bytes present, so a
lying header cannot make us allocate more than the member holds (``np.load`` would). Object arrays
are refused, exactly as ``np.load(..., allow_pickle=False)`` would refuse them.
"""

from __future__ import annotations

import io
import math
from typing import BinaryIO

import numpy as np

from models.datasets.types import ConnectomeDataset, DatasetImportError
from models.datasets.validate import Subject, assemble, read_archive

DEFAULT_MAX_BYTES = 256 << 20
ARRAYS = ("conn", "labels", "features", "subjects", "class_names", "feature_names", "groups")
_NUMERIC = "fiu"
_TEXT = "US"


def parse_npy(key: str, blob: bytes) -> np.ndarray:
    """One ``.npy`` member as an array: never unpickled, and the header's shape checked against
    the bytes present before anything is read (``np.load`` would allocate what a lying header
    claims). Raises DatasetImportError (bad header, object dtype, size not matching the header)."""
    fp = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise DatasetImportError([f"array {key!r}: not a valid .npy array ({exc})"]) from exc
    if dtype.hasobject:
        raise DatasetImportError([f"array {key!r} holds Python objects (object dtype), which are "
                                  "never unpickled; save numbers or fixed-width strings"])
    count = math.prod(shape)
    expected, present = count * dtype.itemsize, len(blob) - fp.tell()
    if expected != present:
        raise DatasetImportError([f"array {key!r}: header says shape {shape} of {dtype} "
                                  f"({expected} bytes) but the member holds {present} bytes"])
    flat = np.frombuffer(blob, dtype=dtype, count=count, offset=fp.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


def _read_arrays(members: dict[str, bytes]) -> dict[str, np.ndarray]:
    """The known arrays by key. Raises DatasetImportError naming every bad or unknown member."""
    arrays, problems = {}, []
    for name, blob in members.items():
        key = name[:-4] if name.endswith(".npy") else name
        if key not in ARRAYS:
            problems.append(f"member {name!r} is not one of the arrays {', '.join(ARRAYS)}")
            continue
        try:
            arrays[key] = parse_npy(key, blob)
        except DatasetImportError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DatasetImportError(problems)
    return arrays


def _kind_problem(arrays: dict[str, np.ndarray], key: str, ndim: int, kinds: str,
                  what: str) -> str | None:
    a = arrays.get(key)
    if a is None:
        return None
    if a.ndim != ndim or a.dtype.kind not in kinds:
        return f"array {key!r} has shape {a.shape} and dtype {a.dtype}; expected {what}"
    return None


def _shape_problems(arrays: dict[str, np.ndarray]) -> list[str]:
    """Whole-array problems: presence, rank, dtype, and lengths agreeing with ``conn``."""
    checks = [("conn", 3, _NUMERIC, "N×R×R numbers"),
              ("labels", 1, _NUMERIC + _TEXT, "N numbers or strings"),
              ("features", 3, _NUMERIC, "N×R×F numbers"), ("subjects", 1, _TEXT, "N strings"),
              ("class_names", 1, _TEXT, "a list of strings"),
              ("feature_names", 1, _TEXT, "F strings"),
              ("groups", 1, _TEXT, "N strings, each subject's site, scanner or family (save them with dtype=str)")]
    problems = [f"missing array {k!r}" for k in ("conn", "labels") if k not in arrays]
    problems += [p for p in (_kind_problem(arrays, *c) for c in checks) if p]
    if problems:
        return problems
    n, r, r2 = arrays["conn"].shape
    if r != r2:
        problems.append(f"array 'conn' has shape {arrays['conn'].shape}: matrices are not square")
    for key in ("labels", "subjects", "features", "groups"):
        if key in arrays and len(arrays[key]) != n:
            problems.append(f"array {key!r} has {len(arrays[key])} entries but 'conn' has {n} "
                            "subjects: every subject needs one")
    feats = arrays.get("features")
    if feats is not None and feats.shape[1] != r:
        problems.append(f"array 'features' has {feats.shape[1]} rows per subject but 'conn' has "
                        f"{r} regions: one feature row per region")
    names = arrays.get("feature_names")
    if names is not None and (feats is None or len(names) != feats.shape[2]):
        have = 0 if feats is None else feats.shape[2]
        problems.append(f"array 'feature_names' has {len(names)} names for {have} features")
    return problems


def _texts(a: np.ndarray) -> list[str]:
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in a.tolist()]


def _subjects(arrays: dict[str, np.ndarray], class_names: tuple[str, ...] | None) -> list[Subject]:
    """One Subject per row of ``conn``; text labels are looked up in ``class_names`` when given."""
    conn, labels, feats = arrays["conn"], arrays["labels"], arrays.get("features")
    n = conn.shape[0]
    width = max(4, len(str(n)))
    if "subjects" in arrays:
        ids = _texts(arrays["subjects"])
    else:
        ids = [f"sub-{i + 1:0{width}d}" for i in range(n)]
    raw = _texts(labels) if labels.dtype.kind in _TEXT else labels.tolist()
    groups = _texts(arrays["groups"]) if "groups" in arrays else [None] * n
    if class_names is not None and labels.dtype.kind in _TEXT:
        index = {name: k for k, name in enumerate(class_names)}
        raw = [index.get(v, v) for v in raw]
    return [Subject(id=ids[i], matrix=conn[i], label=raw[i], where=f"subject {ids[i]!r} (conn[{i}])",
                    features=None if feats is None else feats[i], group=groups[i]) for i in range(n)]


def load_npz(data: bytes | BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ConnectomeDataset:
    """The dataset in the ``.npz`` bytes ``data`` (see the module docstring for the arrays).

    ``max_bytes`` bounds the file, each array and all arrays together, uncompressed.
    Raises DatasetImportError with every problem found: not a zip, archive guards (see
    ``validate.read_archive``), unknown or unreadable arrays, object arrays, wrong shapes or
    dtypes, lengths not matching ``conn``, and the dataset checks of ``validate.assemble``.
    """
    arrays = _read_arrays(read_archive(data, max_member_bytes=max_bytes, max_total_bytes=max_bytes))
    problems = _shape_problems(arrays)
    if problems:
        raise DatasetImportError(problems)
    feature_names: tuple[str, ...] = ()
    if "features" in arrays:
        f = arrays["features"].shape[2]
        feature_names = tuple(_texts(arrays["feature_names"])) if "feature_names" in arrays else tuple(
            f"feature_{k + 1}" for k in range(f))
    class_names = tuple(_texts(arrays["class_names"])) if "class_names" in arrays else None
    return assemble(_subjects(arrays, class_names), feature_names=feature_names, class_names=class_names)
