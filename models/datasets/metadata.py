"""A dataset's metadata, computed once at import and stored as JSON next to it.

The API decides everything about a dataset (shapes for a fine-tune, class names) from this
record, without loading the arrays.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np

from models.datasets.types import ConnectomeDataset

# |A - Aᵀ| <= SYMMETRY_ATOL + SYMMETRY_RTOL * |Aᵀ| everywhere counts as symmetric: text exports
# round values, so an exact test would call most real matrices asymmetric.
SYMMETRY_ATOL = 1e-5
SYMMETRY_RTOL = 1e-4
CHECKSUM_VERSION = "trainyard-connectome-v1"


def is_symmetric(conn: np.ndarray) -> bool:
    """Whether every matrix in the N×R×R ``conn`` equals its transpose within the tolerances."""
    return bool(np.allclose(conn, np.swapaxes(conn, 1, 2), rtol=SYMMETRY_RTOL, atol=SYMMETRY_ATOL))


def checksum(ds: ConnectomeDataset) -> str:
    """sha256 hex of a canonical byte form of the dataset.

    Unlike a hash of the ``.npz`` blob it does not change with zip timestamps or compression: it
    covers a JSON header (version, shapes, subjects, class and feature names, and the groups when
    the dataset has them: a dataset without groups keeps the checksum it had before groups
    existed) followed by the raw little-endian C-order bytes of conn (float32), labels (int64) and
    features (float32).
    """
    header = {
        "version": CHECKSUM_VERSION,
        "conn": list(ds.conn.shape),
        "features": None if ds.features is None else list(ds.features.shape),
        "subjects": list(ds.subjects),
        "class_names": list(ds.class_names),
        "feature_names": list(ds.feature_names),
    }
    if ds.groups is not None:
        header["groups"] = list(ds.groups)
    h = hashlib.sha256(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    h.update(b"\0")
    h.update(np.ascontiguousarray(ds.conn, dtype="<f4").tobytes())
    h.update(np.ascontiguousarray(ds.labels, dtype="<i8").tobytes())
    if ds.features is not None:
        h.update(np.ascontiguousarray(ds.features, dtype="<f4").tobytes())
    return h.hexdigest()


def describe(ds: ConnectomeDataset) -> dict:
    """JSON-ready metadata: n_subjects, n_regions, n_features, feature_names, class_names,
    class_counts ({name: count}, zero for a class with no subject), symmetric, checksum; with
    groups also n_groups and group_counts ({group: subjects}, sorted by group)."""
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    return {
        "n_subjects": ds.n_subjects,
        "n_regions": ds.n_regions,
        "n_features": ds.n_features,
        "feature_names": list(ds.feature_names),
        "class_names": list(ds.class_names),
        "class_counts": {name: int(c) for name, c in zip(ds.class_names, counts)},
        "symmetric": is_symmetric(ds.conn),
        "checksum": checksum(ds),
        **_group_facts(ds),
    }


def _group_facts(ds: ConnectomeDataset) -> dict:
    if ds.groups is None:
        return {}
    counts = Counter(ds.groups)
    return {"n_groups": len(counts), "group_counts": {g: counts[g] for g in sorted(counts)}}
