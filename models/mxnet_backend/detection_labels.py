"""MXNet's object-detection label, as ``im2rec`` writes it into a ``.lst`` line or a record's
IRHeader and ``mxnet.image.ImageDetIter._parse_label`` reads it (MXNet 1.9.1). numpy only.

A label is one flat float array: ``[A, B, extra header…, obj_1…, obj_2…]`` where A (≥ 2) is the
header's width, B (≥ 5) each object's width, and each object is ``class_id, xmin, ymin, xmax,
ymax`` (corners normalised to [0, 1]) followed by B − 5 extras, the first of which, when
present, is the VOC "difficult" flag (GluonCV's convention). Extra header values (GluonCV writes
the image's width and height there) are ignored.

Stricter than ImageDetIter, which silently drops boxes with xmax ≤ xmin or ymax ≤ ymin and skips
images left with none: here every such box is a problem, named. An object row of all −1 is
padding (ImageDetIter pads batches so) and is skipped. A label with no objects (``[2, 5]``) is an
image with no boxes: accepted and counted, where ImageDetIter raises "Label shape is invalid".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Float32 rounding of a corner computed as x / width may pass 1 by an ulp or two.
CORNER_SLACK = 1e-6


@dataclass(frozen=True)
class ParsedLabel:
    boxes: np.ndarray  # (n, 6) float64: class, xmin, ymin, xmax, ymax, difficult (normalised)
    padding_rows: int = 0


def _is_int(value: float) -> bool:
    return bool(np.isfinite(value)) and float(value) == int(value)


def _header_problem(raw: np.ndarray) -> str | None:
    if raw.size < 2:
        return f"label has {raw.size} values; a detection label starts with [header width, object width]"
    if not np.isfinite(raw).all():
        return "label holds a value that is not a finite number"
    a, b = raw[0], raw[1]
    if not (_is_int(a) and a >= 2):
        return f"header width {a:g} must be an integer ≥ 2"
    if not (_is_int(b) and b >= 5):
        return f"object width {b:g} must be an integer ≥ 5 (class_id, xmin, ymin, xmax, ymax)"
    if a > raw.size:
        return f"header width {int(a)} is more than the label's {raw.size} values"
    if (raw.size - int(a)) % int(b):
        return (f"label has {raw.size - int(a)} values after its {int(a)}-value header, "
                f"not a multiple of the object width {int(b)}")
    return None


def _corner_problems(row: np.ndarray) -> list[str]:
    x0, y0, x1, y1 = (float(v) for v in row[1:5])
    problems = []
    if not x0 < x1:
        problems.append(f"xmin {x0:g} is not less than xmax {x1:g}")
    if not y0 < y1:
        problems.append(f"ymin {y0:g} is not less than ymax {y1:g}")
    outside = [f"{n} {v:g}" for n, v in zip(("xmin", "ymin", "xmax", "ymax"), (x0, y0, x1, y1))
               if not -CORNER_SLACK <= v <= 1 + CORNER_SLACK]
    if outside:
        problems.append(f"{', '.join(outside)} outside the image (corners are normalised to [0, 1])")
    return problems


def _object_problems(row: np.ndarray, n_classes: int | None) -> list[str]:
    cls = float(row[0])
    problems = []
    if not (_is_int(cls) and cls >= 0):
        problems.append(f"class id {cls:g} is not a class index (an integer ≥ 0)")
    elif n_classes is not None and cls >= n_classes:
        problems.append(f"class id {int(cls)} is unknown ({n_classes} class names given: ids 0..{n_classes - 1})")
    problems += _corner_problems(row)
    if row.size > 5 and row[5] not in (0.0, 1.0):
        problems.append(f"difficult flag {float(row[5]):g} must be 0 or 1")
    return problems


def parse_detection_label(raw, where: str, n_classes: int | None = None) -> tuple[ParsedLabel, list[str]]:
    """The boxes of one label and one problem per bad value, each starting with ``where``
    (e.g. ".lst line 3" or "record 7") and naming the object by its 1-based position."""
    raw = np.asarray(raw, dtype=np.float64).ravel()
    problem = _header_problem(raw)
    if problem:
        return ParsedLabel(np.zeros((0, 6))), [f"{where}: {problem}"]
    width = int(raw[1])
    rows = raw[int(raw[0]):].reshape(-1, width)
    boxes, problems, padding = [], [], 0
    for number, row in enumerate(rows, start=1):
        if (row == -1).all():
            padding += 1
            continue
        found = _object_problems(row, n_classes)
        problems += [f"{where} object {number}: {p}" for p in found]
        if not found:
            difficult = row[5] if width > 5 else 0.0
            boxes.append([row[0], *np.clip(row[1:5], 0.0, 1.0), difficult])
    return ParsedLabel(np.asarray(boxes, dtype=np.float64).reshape(-1, 6), padding), problems


@dataclass(frozen=True)
class LstLine:
    number: int  # 1-based line number in the file
    key: int
    label: np.ndarray  # the raw label values
    path: str


def parse_lst(text: bytes) -> tuple[list[LstLine], list[str]]:
    """The lines of an im2rec ``.lst`` (``index<TAB>label values…<TAB>path``, as ImageIter splits
    them) and one problem per bad line, naming its number."""
    entries, problems, seen = [], [], set()
    for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.strip().split("\t")]
        if len(fields) < 3:
            problems.append(f".lst line {number}: expected 'index<TAB>label…<TAB>path', got {line[:60]!r}")
            continue
        try:
            key, label = int(fields[0]), np.array([float(v) for v in fields[1:-1]])
        except ValueError:
            problems.append(f".lst line {number}: the index and label values must be numbers, got {line[:60]!r}")
            continue
        if key in seen:
            problems.append(f".lst line {number}: index {key} repeats an earlier line's")
            continue
        seen.add(key)
        entries.append(LstLine(number, key, label, fields[-1]))
    if not entries and not problems:
        problems.append(".lst lists no images")
    return entries, problems
