"""Import a connectome dataset from a ``.zip`` in the layout NEURO-LEARN users export from DPABI.

The archive holds:

- one whitespace-separated R×R text matrix per subject, a ``.txt`` member anywhere in the tree
  (``ROISignals_FunImgARCWF/ROICorrelation_FisherZ_sub001.txt``, ``sub001.txt``);
- exactly one ``.csv`` label table with columns ``ID`` and ``LABEL`` (any case) and optional
  per-region feature columns ``NAME_<region>``, regions numbered 1..R: ``GMV_1..GMV_90``,
  ``ReHo_1..ReHo_90`` give features N×R×F with ``feature_names`` ("GMV", "ReHo") in the order
  the names first appear; an optional ``GROUP`` or ``SITE`` column (not both) names each subject's
  site, scanner or family (``ConnectomeDataset.groups``; every cell filled). The delimiter is a
  comma, or a tab / semicolon when the header row has no comma.

Subject id rule: a matrix file belongs to the CSV ``ID`` that equals its stem (the file name
without ``.txt``) or that the stem ends with after an underscore, the longest such ID winning.
``ROICorrelation_FisherZ_sub001.txt`` and ``sub001.txt`` both belong to ``sub001``; the file's
folder plays no part. Subjects keep the CSV's row order. Labels: see ``validate.encode_labels``
("NC"/"SZ" → 0/1 with class_names ("NC", "SZ"); 0/1 → class_names ("0", "1")).
A prediction has no labels: ``read_dpabi_subjects`` reads the same layout with the LABEL column
optional and its labels (and any GROUP / SITE) ignored.
Directories, ``__MACOSX/`` and dot-files (macOS metadata) are skipped; other file types are refused.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from models.datasets.types import ConnectomeDataset, DatasetImportError
from models.datasets.validate import Subject, assemble, read_archive, unlabelled

DEFAULT_MAX_MEMBER_BYTES = 16 << 20
DEFAULT_MAX_TOTAL_BYTES = 256 << 20
_FEATURE_COLUMN = re.compile(r"^(?P<name>.+)_(?P<region>\d+)$")
GROUP_COLUMNS = ("GROUP", "SITE")  # either names each subject's group


@dataclass
class _Row:
    line: int
    id: str
    label: str
    cells: list[str]
    group: str | None = None


@dataclass
class _Table:
    name: str
    rows: list[_Row] = field(default_factory=list)
    features: dict[str, list[int]] = field(default_factory=dict)  # name -> column of region 1..R
    problems: list[str] = field(default_factory=list)


def _decode(name: str, blob: bytes) -> str:
    """Raises DatasetImportError when ``blob`` is binary or not UTF-8."""
    if b"\x00" in blob:
        raise DatasetImportError([f"member {name!r} is not a text file"])
    try:
        return blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetImportError([f"member {name!r} is not UTF-8 text ({exc.reason} at byte "
                                  f"{exc.start})"]) from exc


def parse_matrix(name: str, blob: bytes) -> np.ndarray:
    """The numbers of a whitespace-separated text matrix, one row per non-blank line.

    Raises DatasetImportError: not text, a token that is not a number, ragged rows, no numbers.
    """
    rows, width, first = [], 0, 0
    for no, line in enumerate(_decode(name, blob).splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            rows.append(np.array(tokens, dtype=np.float64))
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise DatasetImportError([f"member {name!r} line {no}: {bad!r} is not a number"]) from None
        if not width:
            width, first = len(tokens), no
        elif len(tokens) != width:
            raise DatasetImportError([f"member {name!r}: line {no} has {len(tokens)} values, line "
                                      f"{first} has {width} (ragged rows)"])
    if not rows:
        raise DatasetImportError([f"member {name!r} is empty: no numbers"])
    return np.stack(rows)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _feature_columns(name: str, header: list[str]) -> tuple[dict[str, list[int]], list[str]]:
    """Feature name -> column index of regions 1..K, and problems with the header."""
    groups: dict[str, dict[int, int]] = {}
    problems = [f"{name}: column {t!r} appears {c} times" for t, c in Counter(header).items() if c > 1]
    for col, title in enumerate(header):
        if title.upper() in ("ID", "LABEL") + GROUP_COLUMNS:
            continue
        m = _FEATURE_COLUMN.match(title)
        if m is None:
            problems.append(f"{name}: column {title!r} is not ID, LABEL or a per-region feature "
                            "NAME_<region> such as GMV_1 (nor GROUP or SITE, a subject's group)")
            continue
        groups.setdefault(m["name"], {})[int(m["region"])] = col
    features = {}
    for feature, regions in groups.items():
        if sorted(regions) != list(range(1, len(regions) + 1)):
            problems.append(f"{name}: feature {feature!r} has region columns {sorted(regions)}; "
                            f"expected {feature}_1..{feature}_R without gaps")
        else:
            features[feature] = [regions[k] for k in range(1, len(regions) + 1)]
    return features, problems


def _header_and_rows(name: str, text: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with their line numbers. Raises DatasetImportError on bad quoting."""
    first = text.split("\n", 1)[0]
    delimiter = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        records = [(reader.line_num, [c.strip() for c in row]) for row in reader]
    except csv.Error as exc:
        raise DatasetImportError([f"{name}: not a readable CSV ({exc})"]) from exc
    return [(line, row) for line, row in records if any(row)]


def read_table(name: str, blob: bytes, *, labelled: bool = True) -> _Table:
    """The label table. Raises DatasetImportError when it has no ID or LABEL column; other
    problems (bad columns, short rows, empty IDs) are collected in ``problems``. Not
    ``labelled`` (a prediction's table): LABEL is optional, labels are left empty and any
    GROUP / SITE column is ignored."""
    records = _header_and_rows(name, _decode(name, blob))
    if not records:
        raise DatasetImportError([f"{name}: the label table is empty"])
    header = records[0][1]
    upper = [t.upper() for t in header]
    missing = [c for c in ("ID", "LABEL") if c not in upper and (labelled or c == "ID")]
    if missing:
        raise DatasetImportError([f"{name}: no {' or '.join(missing)} column (header: {header})"])
    table = _Table(name)
    table.features, table.problems = _feature_columns(name, header)
    id_col = upper.index("ID")
    label_col = upper.index("LABEL") if labelled else None
    group_col, group_problems = _group_column(name, upper) if labelled else (None, [])
    table.problems += group_problems
    for line, cells in records[1:]:
        if len(cells) != len(header):
            table.problems.append(f"{name} line {line}: {len(cells)} cells, the header has "
                                  f"{len(header)}")
        elif not cells[id_col]:
            table.problems.append(f"{name} line {line}: empty ID")
        else:
            group = None if group_col is None else cells[group_col]
            label = "" if label_col is None else cells[label_col]
            table.rows.append(_Row(line, cells[id_col], label, cells, group))
    return table


def _group_column(name: str, upper: list[str]) -> tuple[int | None, list[str]]:
    """The index of the GROUP or SITE column (None without one), and a problem when both appear."""
    found = [c for c in GROUP_COLUMNS if c in upper]
    if len(found) > 1:
        return None, [f"{name}: has both GROUP and SITE columns; keep one to name each subject's group"]
    return (upper.index(found[0]) if found else None), []


def _sort_members(members: dict[str, bytes]) -> tuple[str | None, list[str], list[str]]:
    """(the label table's name or None, the matrix members, problems)."""
    tables, matrices, problems = [], [], []
    for name in members:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if name.startswith("__MACOSX/") or base.startswith("."):
            continue
        ext = base.rsplit(".", 1)[-1].lower() if "." in base else ""
        if ext in ("csv", "txt"):
            (tables if ext == "csv" else matrices).append(name)
        else:
            problems.append(f"member {name!r}: unsupported file type; expected .txt matrices and "
                            "one .csv label table")
    if len(tables) != 1:
        problems.append(f"archive has {len(tables)} .csv files {tables}; expected exactly one "
                        "label table with columns ID, LABEL")
    if not matrices:
        problems.append("archive has no .txt matrices")
    return (tables[0] if len(tables) == 1 else None), sorted(matrices), problems


def subject_id_for(stem: str, ids: set[str]) -> str | None:
    """The ID in ``ids`` that ``stem`` equals or ends with after an underscore (longest wins)."""
    if stem in ids:
        return stem
    for k, ch in enumerate(stem):
        if ch == "_" and stem[k + 1:] in ids:
            return stem[k + 1:]
    return None


def _match_members(names: list[str], table: _Table) -> tuple[dict[str, str], list[str]]:
    """Subject id -> its matrix member, and problems (unmatched or doubled matrices)."""
    ids = {row.id for row in table.rows}
    owner: dict[str, list[str]] = {}
    problems = []
    for name in names:
        stem = name.replace("\\", "/").rsplit("/", 1)[-1][:-4]
        sid = subject_id_for(stem, ids)
        if sid is None:
            problems.append(f"member {name!r}: no ID in {table.name} matches its name (the ID must "
                            "equal the file name, or end it after a '_' prefix), so it has no label")
        else:
            owner.setdefault(sid, []).append(name)
    for sid, files in owner.items():
        if len(files) > 1:
            problems.append(f"subject {sid!r} has {len(files)} matrix files: {', '.join(files)}")
    return {sid: files[0] for sid, files in owner.items()}, problems


def _row_features(row: _Row, table: _Table, where: str) -> tuple[np.ndarray, list[str]]:
    """(R, F) features of one CSV row, and problems with its cells."""
    columns = list(table.features.values())
    values = np.zeros((len(columns[0]), len(columns)), np.float64)
    problems = []
    for f, cols in enumerate(columns):
        for r, col in enumerate(cols):
            try:
                values[r, f] = float(row.cells[col])
            except ValueError:
                problems.append(f"{where}: feature {list(table.features)[f]}_{r + 1} value "
                                f"{row.cells[col]!r} is not a number")
    return values, problems


def _region_problems(table: _Table, matrices: dict[str, np.ndarray]) -> list[str]:
    if not matrices or not table.features:
        return []
    regions = Counter(m.shape[0] for m in matrices.values()).most_common(1)[0][0]
    return [f"{table.name}: feature {name!r} has {len(cols)} region columns but the matrices have "
            f"{regions} regions: one column per region" for name, cols in table.features.items()
            if len(cols) != regions]


def load_dpabi_zip(data: bytes | BinaryIO, *, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                   max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> ConnectomeDataset:
    """The dataset in a DPABI-style zip (layout and subject id rule: module docstring).

    Raises DatasetImportError with every problem found: archive guards (``validate.read_archive``),
    missing or extra label tables, unsupported members, unreadable or ragged matrices, matrices
    without a CSV row and rows without a matrix, bad feature columns or values, and the dataset
    checks of ``validate.assemble``.
    """
    subjects, names, problems = _read_subjects(data, max_member_bytes, max_total_bytes, labelled=True)
    return assemble(subjects, feature_names=names, problems=problems)


def read_dpabi_subjects(data: bytes | BinaryIO, *, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                        max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
                        ) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """(conn, features or None, subject ids) of a DPABI-style zip to predict: ``load_dpabi_zip``
    without its label checks. The LABEL column may be left out or its cells left empty; labels
    (and GROUP / SITE) play no part when sent. Raises DatasetImportError with every other problem
    ``load_dpabi_zip`` finds (``validate.unlabelled``)."""
    subjects, names, problems = _read_subjects(data, max_member_bytes, max_total_bytes, labelled=False)
    return unlabelled(subjects, feature_names=names, problems=problems)


def _read_subjects(data: bytes | BinaryIO, max_member_bytes: int, max_total_bytes: int, *,
                   labelled: bool) -> tuple[list[Subject], tuple[str, ...], list[str]]:
    """The subjects of the zip, its feature names and the problems found (labels unchecked).
    Raises DatasetImportError when the archive or its label table cannot be read at all."""
    members = read_archive(data, max_member_bytes=max_member_bytes, max_total_bytes=max_total_bytes)
    table_name, matrix_names, problems = _sort_members(members)
    if table_name is None:
        raise DatasetImportError(problems)
    table = read_table(table_name, members[table_name], labelled=labelled)
    owner, match_problems = _match_members(matrix_names, table)
    problems += table.problems + match_problems
    matrices = {}
    for sid, name in owner.items():
        try:
            matrices[sid] = parse_matrix(name, members[name])
        except DatasetImportError as exc:
            problems += exc.problems
    region_problems = _region_problems(table, matrices)
    problems += region_problems
    subjects, feature_problems = [], list(region_problems)
    for row in table.rows:
        where = f"subject {row.id!r} ({table.name} line {row.line}, member {owner.get(row.id)!r})"
        if row.id not in owner:
            problems.append(f"subject {row.id!r} ({table.name} line {row.line}) has no matrix file")
        elif row.id in matrices:
            feats, bad = _row_features(row, table, where) if table.features else (None, [])
            feature_problems += bad
            subjects.append(Subject(row.id, matrices[row.id], row.label, where, feats, row.group))
    problems += [p for p in feature_problems if p not in region_problems]
    # Features that are already known to be broken would only repeat as per-subject messages.
    names = () if feature_problems else tuple(table.features)
    return subjects, names, problems
