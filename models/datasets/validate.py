"""Checks every imported dataset must pass, and guarded in-memory reading of zip archives.

Every problem is a message naming the subject or archive member it concerns. Loaders collect the
problems of a file and raise them together as one ``DatasetImportError``. Archives are never
extracted to disk: members are read into memory, after their declared sizes were checked, with a
read that stops one byte past the limit whatever the header claimed.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from models.datasets.types import ConnectomeDataset, DatasetImportError

# A member that expands more than this many times is treated as a zip bomb. Text matrices and
# float arrays compress 2-10x; only degenerate content (all zeros) comes near 100x.
MAX_RATIO = 100
# Members smaller than this are exempt from the ratio check: tiny files compress erratically.
RATIO_FLOOR_BYTES = 1 << 20
MAX_MEMBERS = 20_000

_DRIVE = re.compile(r"^[A-Za-z]:")
_INT_TEXT = re.compile(r"^[+-]?\d+(\.0*)?$")


# ---------------------------------------------------------------- archives


def unsafe_path_problem(name: str) -> str | None:
    """A message when ``name`` is absolute, has a drive letter or climbs out with ``..``."""
    norm = name.replace("\\", "/")
    if norm.startswith("/") or _DRIVE.match(norm):
        return f"member {name!r}: absolute path; archive members must be relative"
    if ".." in norm.split("/"):
        return f"member {name!r}: path leaves the archive ('..')"
    return None


def _declared_problems(infos: list[zipfile.ZipInfo], archive_bytes: int,
                       max_member_bytes: int, max_total_bytes: int) -> list[str]:
    """Problems visible in the central directory alone, before anything is decompressed."""
    if len(infos) > MAX_MEMBERS:
        return [f"archive has {len(infos)} members, over the limit of {MAX_MEMBERS}"]
    problems = [p for p in map(unsafe_path_problem, (i.filename for i in infos)) if p]
    for name, count in Counter(i.filename for i in infos).items():
        if count > 1:
            problems.append(f"member {name!r} appears {count} times in the archive")
    oversized = [i for i in infos if i.file_size > max_member_bytes]
    problems += [f"member {i.filename!r} declares {i.file_size} bytes uncompressed, over the "
                 f"per-member limit of {max_member_bytes}" for i in oversized]
    total = sum(i.file_size for i in infos)
    if total > max_total_bytes:
        return problems + [f"archive declares {total} bytes uncompressed, over the limit of "
                           f"{max_total_bytes}"]
    return problems + ratio_problems([i for i in infos if i not in oversized], archive_bytes, total)


def expansion_problem(what: str, packed: int, size: int) -> str | None:
    """A message when ``size`` bytes from ``packed`` is a suspicious expansion (a zip bomb)."""
    if size > RATIO_FLOOR_BYTES and size > MAX_RATIO * packed:
        return (f"{what} expands {size // max(packed, 1)}x ({packed} -> {size} bytes), over the "
                f"limit of {MAX_RATIO}x (a zip bomb?)")
    return None


def ratio_problems(infos: list[zipfile.ZipInfo], archive_bytes: int, total: int | None = None) -> list[str]:
    """Members, and the archive as a whole (``total`` bytes unpacked, by default the members'
    sum), that declare a suspicious expansion: read from the central directory alone, before
    anything is inflated. Every archive path uses this."""
    total = sum(i.file_size for i in infos) if total is None else total
    found = [expansion_problem(f"member {i.filename!r}", i.compress_size, i.file_size) for i in infos]
    found.append(expansion_problem("archive", archive_bytes, total))
    return [p for p in found if p]


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes. Raises DatasetImportError when it cannot be read or exceeds ``limit``."""
    name = info.filename
    try:
        with zf.open(info) as fh:
            blob = fh.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:
        raise DatasetImportError([f"member {name!r}: cannot be read ({exc})"]) from exc
    if len(blob) > limit:
        raise DatasetImportError([f"member {name!r} holds more than {limit} bytes"])
    return blob


def binary_file(data: bytes | BinaryIO) -> tuple[BinaryIO, int]:
    """``data`` (bytes, or a seekable binary file such as an upload spooled to disk) as a file
    at its start, and its length."""
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    size = fh.seek(0, 2)
    fh.seek(0)
    return fh, size


def read_archive(data: bytes | BinaryIO, *, max_member_bytes: int, max_total_bytes: int) -> dict[str, bytes]:
    """Every file member of the zip ``data`` (bytes or a seekable file, read in place) by name
    (directories left out), read into memory once its declared sizes passed the checks.

    Raises DatasetImportError: empty or oversized file, not a zip, unsafe member paths, duplicate
    names, members declared (or found) over the limits, suspicious compression ratios, members
    that cannot be decompressed (bad CRC, encryption, unknown compression).
    """
    fh, size = binary_file(data)
    if not size:
        raise DatasetImportError(["file is empty"])
    if size > max_total_bytes:
        raise DatasetImportError([f"file is {size} bytes, over the limit of {max_total_bytes}"])
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DatasetImportError([f"not a readable zip archive ({exc})"]) from exc
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        problems = _declared_problems(infos, size, max_member_bytes, max_total_bytes)
        if problems:
            raise DatasetImportError(problems)
        members: dict[str, bytes] = {}
        for info in infos:
            try:
                members[info.filename] = read_member(zf, info, max_member_bytes)
            except DatasetImportError as exc:
                problems.extend(exc.problems)
    if problems:
        raise DatasetImportError(problems)
    return members


# ---------------------------------------------------------------- subjects


@dataclass
class Subject:
    """One subject as a loader found it, before the dataset-wide checks."""

    id: str
    matrix: np.ndarray  # 2-D, any numeric dtype
    label: object  # str, int or float as found; "" or None when missing
    where: str  # how messages name it, e.g. "subject 'sub001' (member 'x/sub001.txt')"
    features: np.ndarray | None = None  # (R, F)
    group: str | None = None  # site, scanner or family; None when the file gives no groups


def _int_label(value: object) -> int | None:
    """``value`` as an int when it is a whole number (or its text), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if np.isfinite(value) and float(value).is_integer() else None
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        return int(value.strip().split(".")[0])
    return None


def encode_labels(subjects: list[Subject]) -> tuple[np.ndarray, tuple[str, ...], list[str]]:
    """Class indices, class names and problems for labels given as values.

    All whole numbers: names are the distinct values as text, in numeric order ("0", "1").
    Otherwise: names are the distinct labels as stripped text, in sorted order ("NC", "SZ").
    """
    problems, raw = [], []
    for s in subjects:
        value = s.label.strip() if isinstance(s.label, str) else s.label
        if value is None or value == "":
            problems.append(f"{s.where}: missing label")
        elif not isinstance(value, str) and _int_label(value) is None:
            problems.append(f"{s.where}: label {value!r} is neither a whole number nor a name")
        raw.append(value)
    if problems:
        return np.zeros(0, np.int64), (), problems
    ints = [_int_label(v) for v in raw]
    if all(i is not None for i in ints):
        order = sorted(set(ints))
        index = {v: k for k, v in enumerate(order)}
        return np.array([index[i] for i in ints], np.int64), tuple(map(str, order)), []
    names = [str(v) for v in raw]
    order = sorted(set(names))
    index = {v: k for k, v in enumerate(order)}
    return np.array([index[n] for n in names], np.int64), tuple(order), []


def index_labels(subjects: list[Subject], class_names: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Labels that are already indices into ``class_names``: checked, and problems."""
    problems, out = [], []
    if len(set(class_names)) != len(class_names) or "" in class_names:
        problems.append(f"class_names {list(class_names)} must be distinct and non-empty")
    for s in subjects:
        idx = _int_label(s.label)
        if isinstance(s.label, str) and idx is None:
            problems.append(f"{s.where}: label {s.label!r} is not one of the class_names "
                            f"{list(class_names)}")
        elif idx is None or not 0 <= idx < len(class_names):
            problems.append(f"{s.where}: label {s.label!r} is outside 0..{len(class_names) - 1} "
                            f"(class_names has {len(class_names)} entries)")
        out.append(idx if idx is not None else -1)
    return np.array(out, np.int64), problems


def _matrix_problems(subjects: list[Subject]) -> list[str]:
    """Square, one size for all, finite (in float32, the stored precision)."""
    problems = []
    square = [s.matrix.shape for s in subjects
              if s.matrix.ndim == 2 and s.matrix.shape[0] == s.matrix.shape[1]]
    usual = Counter(square).most_common(1)[0][0] if square else None
    for s in subjects:
        shape = s.matrix.shape
        if s.matrix.ndim != 2 or shape[0] != shape[1]:
            problems.append(f"{s.where}: matrix is {'x'.join(map(str, shape))}, not square")
        elif shape != usual:
            problems.append(f"{s.where}: matrix is {shape[0]}x{shape[0]}, the others are "
                            f"{usual[0]}x{usual[0]}")
        elif shape[0] == 0:
            problems.append(f"{s.where}: matrix is empty")
        else:
            problems.extend(_finite_problems(s.where, "matrix", s.matrix, diagonal=True))
    return problems


def _finite_problems(where: str, what: str, values: np.ndarray, *, diagonal: bool = False) -> list[str]:
    with np.errstate(over="ignore"):  # values beyond float32 become inf: that is the check
        bad = ~np.isfinite(values.astype(np.float32))
    if not bad.any():
        return []
    message = (f"{where}: {what} has {int(bad.sum())} non-finite values (NaN, inf, or beyond "
               "float32 range)")
    if diagonal and not (bad & ~np.eye(bad.shape[0], dtype=bool)).any():
        message += "; all on the diagonal (a Fisher-z matrix's diagonal is inf: set it to 0)"
    return [message]


def _feature_problems(subjects: list[Subject], n_regions: int, n_features: int) -> list[str]:
    problems = []
    for s in subjects:
        if s.features is None:
            problems.append(f"{s.where}: has no node features, the others have {n_features}")
        elif s.features.shape != (n_regions, n_features):
            rows, cols = (s.features.shape + (0,))[:2]
            problems.append(f"{s.where}: features are {rows} regions x {cols}, expected "
                            f"{n_regions} regions x {n_features} (one row per region)")
        else:
            problems.extend(_finite_problems(s.where, "features", s.features))
    return problems


def _group_problems(subjects: list[Subject]) -> list[str]:
    """Groups are all absent or all non-empty strings."""
    if all(s.group is None for s in subjects):
        return []
    return [f"{s.where}: " + ("no group, the others have one" if s.group is None else "empty group")
            for s in subjects if s.group is None or not s.group.strip()]


def _groups(subjects: list[Subject]) -> tuple[str, ...] | None:
    return None if subjects[0].group is None else tuple(s.group.strip() for s in subjects)


def _duplicate_problems(subjects: list[Subject]) -> list[str]:
    seen: dict[str, list[str]] = {}
    for s in subjects:
        seen.setdefault(s.id, []).append(s.where)
    return [f"subject id {sid!r} is used {len(w)} times: {', '.join(w)}"
            for sid, w in seen.items() if len(w) > 1]


def subject_problems(subjects: list[Subject], feature_names: tuple[str, ...] = (), *,
                     groups: bool = True) -> list[str]:
    """The checks of every import, labelled or not (``subjects`` non-empty): duplicate ids,
    non-square / mixed-size / non-finite matrices, feature rows not matching regions, and with
    ``groups`` a missing or empty group when some subject has one. Labels play no part."""
    problems = _duplicate_problems(subjects) + _matrix_problems(subjects)
    if groups:
        problems += _group_problems(subjects)
    if feature_names:
        n_regions = Counter(s.matrix.shape[0] for s in subjects).most_common(1)[0][0]
        problems += _feature_problems(subjects, n_regions, len(feature_names))
    return problems


def unlabelled(subjects: list[Subject], *, feature_names: tuple[str, ...] = (),
               problems: list[str] | tuple = ()) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(conn N×R×R float32, features N×R×F float32 or None, subject ids) of subjects to predict:
    ``assemble``'s checks on ids, matrices and features, none on labels or groups (a prediction
    has no labels; those it carries play no part). Raises DatasetImportError: no subjects, the
    problems of ``subject_problems`` — plus ``problems``."""
    problems = list(problems)
    if not subjects:
        raise DatasetImportError(problems or ["no subjects"])
    problems += subject_problems(subjects, feature_names, groups=False)
    if problems:
        raise DatasetImportError(problems)
    conn = np.stack([s.matrix for s in subjects]).astype(np.float32)
    features = np.stack([s.features for s in subjects]).astype(np.float32) if feature_names else None
    return conn, features, [s.id for s in subjects]


def assemble(subjects: list[Subject], *, feature_names: tuple[str, ...] = (),
             class_names: tuple[str, ...] | None = None,
             problems: list[str] | tuple = ()) -> ConnectomeDataset:
    """The validated dataset built from ``subjects``.

    ``feature_names`` non-empty means every subject must carry (R, F) features. ``class_names``
    given means labels are indices into it; otherwise labels are values (see ``encode_labels``).
    ``problems`` already found by the loader are reported together with these.
    Raises DatasetImportError: empty dataset, duplicate ids, non-square / mixed-size / non-finite
    matrices, feature rows not matching regions, missing or out-of-range labels, fewer than two
    classes present, a missing or empty group when some subject has one — plus ``problems``.
    """
    problems = list(problems)
    if not subjects:
        raise DatasetImportError(problems or ["dataset is empty: no subjects"])
    problems += subject_problems(subjects, feature_names)
    if class_names is None:
        labels, class_names, label_problems = encode_labels(subjects)
    else:
        labels, label_problems = index_labels(subjects, class_names)
    problems += label_problems
    if not label_problems and len(set(labels.tolist())) < 2:
        only = class_names[int(labels[0])]
        problems.append(f"all {len(subjects)} subjects have label {only!r}: at least two classes "
                        "are needed")
    if problems:
        raise DatasetImportError(problems)
    return ConnectomeDataset(
        conn=np.stack([s.matrix for s in subjects]).astype(np.float32),
        labels=labels,
        subjects=tuple(s.id for s in subjects),
        class_names=tuple(class_names),
        features=np.stack([s.features for s in subjects]).astype(np.float32) if feature_names else None,
        feature_names=tuple(feature_names),
        groups=_groups(subjects),
    )
