"""In-memory builders of dataset upload files for the dataset tests."""

from __future__ import annotations

import io
import zipfile

import numpy as np

N_SUBJECTS, N_REGIONS = 6, 4
LABELS = ["NC", "SZ", "NC", "SZ", "NC", "SZ"]
FEATURES = ("GMV", "ReHo")


def matrices(n: int = N_SUBJECTS, r: int = N_REGIONS, seed: int = 0) -> np.ndarray:
    """Symmetric float32 matrices with a zero diagonal, values exact in 6 decimals."""
    rng = np.random.default_rng(seed)
    m = np.round(rng.uniform(-1, 1, size=(n, r, r)), 6)
    m = np.round((m + m.transpose(0, 2, 1)) / 2, 6)
    m[:, np.arange(r), np.arange(r)] = 0
    return m.astype(np.float32)


def subject_id(i: int) -> str:
    return f"sub{i + 1:03d}"


def feature_value(i: int, region: int, feature: int) -> float:
    return i * 100 + region + feature / 10


def matrix_text(m) -> str:
    return "\n".join("\t".join(f"{v:.6f}" for v in row) for row in m) + "\n"


def label_csv(labels=LABELS, features=FEATURES, regions: int = N_REGIONS, ids=None) -> str:
    """The label table; ``labels=None`` leaves out the LABEL column (a prediction's table:
    give ``ids``)."""
    ids = ids or [subject_id(i) for i in range(len(labels))]
    header = ["ID"] + ([] if labels is None else ["LABEL"])
    header += [f"{f}_{r + 1}" for f in features for r in range(regions)]
    lines = [",".join(header)]
    rows = [(sid, None) for sid in ids] if labels is None else zip(ids, labels)
    for i, (sid, label) in enumerate(rows):
        cells = [f"{feature_value(i, r, k)}" for k in range(len(features)) for r in range(regions)]
        lines.append(",".join([sid] + ([] if label is None else [label]) + cells))
    return "\n".join(lines) + "\n"


def dpabi_members(conn=None, ids=None, table: str | None = None) -> dict[str, str | bytes]:
    """A valid DPABI layout: one FisherZ matrix per subject (named by ``ids``, by default
    sub001…) plus ``table`` (by default ``label_csv()``) as labels.csv."""
    conn = matrices() if conn is None else conn
    ids = ids or [subject_id(i) for i in range(len(conn))]
    members: dict[str, str | bytes] = {
        f"ROISignals_FunImgARCWF/ROICorrelation_FisherZ_{sid}.txt": matrix_text(m)
        for sid, m in zip(ids, conn)
    }
    members["labels.csv"] = label_csv() if table is None else table
    return members


def member_name(i: int) -> str:
    return f"ROISignals_FunImgARCWF/ROICorrelation_FisherZ_{subject_id(i)}.txt"


def zip_bytes(members: dict[str, str | bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def npz_bytes(compressed: bool = True, **arrays) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def npz_arrays(n: int = N_SUBJECTS) -> dict[str, np.ndarray]:
    """Valid user-style arrays: string labels, features, no subjects (defaults apply)."""
    rng = np.random.default_rng(1)
    return {
        "conn": matrices(n),
        "labels": np.array((LABELS * n)[:n]),
        "features": rng.normal(size=(n, N_REGIONS, 3)).astype(np.float32),
    }
