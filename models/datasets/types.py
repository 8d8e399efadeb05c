"""The in-memory connectome dataset and its lossless, pickle-free serialisation."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from models.sources import Source, as_file


class DatasetImportError(ValueError):
    """A dataset file was rejected. ``problems`` holds one message per problem found,
    each naming the subject or archive member it concerns."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True, eq=False)
class ConnectomeDataset:
    """N subjects, each an R×R connectivity matrix, optional R×F node features, a label.

    ``labels`` are class indices into ``class_names``; ``subjects`` are unique ids; ``groups``
    (optional) names each subject's site, scanner or family: splits keep a group on one side.
    """

    conn: np.ndarray  # (N, R, R) float32
    labels: np.ndarray  # (N,) int64, values in range(len(class_names))
    subjects: tuple[str, ...]
    class_names: tuple[str, ...]
    features: np.ndarray | None = None  # (N, R, F) float32
    feature_names: tuple[str, ...] = field(default=())
    groups: tuple[str, ...] | None = None  # (N,) non-empty strings

    @property
    def n_subjects(self) -> int:
        return int(self.conn.shape[0])

    @property
    def n_regions(self) -> int:
        return int(self.conn.shape[1])

    @property
    def n_features(self) -> int:
        """Node features per region; 0 when the dataset has none."""
        return 0 if self.features is None else int(self.features.shape[2])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices) -> "ConnectomeDataset":
        """The subjects at ``indices`` (in that order), sharing class names."""
        idx = np.asarray(indices, dtype=np.int64)
        return ConnectomeDataset(
            conn=self.conn[idx],
            labels=self.labels[idx],
            subjects=tuple(self.subjects[i] for i in idx),
            class_names=self.class_names,
            features=None if self.features is None else self.features[idx],
            feature_names=self.feature_names,
            groups=None if self.groups is None else tuple(self.groups[i] for i in idx),
        )

    def to_npz_bytes(self) -> bytes:
        """The canonical stored form (also a valid ``.npz`` upload)."""
        buf = io.BytesIO()
        arrays = {
            "conn": self.conn.astype(np.float32),
            "labels": self.labels.astype(np.int64),
            "subjects": np.array(self.subjects, dtype=str),
            "class_names": np.array(self.class_names, dtype=str),
        }
        if self.features is not None:
            arrays["features"] = self.features.astype(np.float32)
            arrays["feature_names"] = np.array(self.feature_names, dtype=str)
        if self.groups is not None:
            arrays["groups"] = np.array(self.groups, dtype=str)
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_npz_bytes(cls, blob: bytes) -> "ConnectomeDataset":
        """``from_npz`` of the bytes."""
        return cls.from_npz(blob)

    @classmethod
    def from_npz(cls, source: Source) -> "ConnectomeDataset":
        """Inverse of ``to_npz_bytes`` for data this service stored (already validated): bytes, or
        a seekable file or path read in place (each array read in chunks, never the whole file)."""
        with np.load(as_file(source), allow_pickle=False) as z:
            features = z["features"] if "features" in z.files else None
            names = tuple(str(s) for s in z["feature_names"]) if "feature_names" in z.files else ()
            groups = tuple(str(s) for s in z["groups"]) if "groups" in z.files else None
            return cls(
                conn=z["conn"],
                labels=z["labels"],
                subjects=tuple(str(s) for s in z["subjects"]),
                class_names=tuple(str(s) for s in z["class_names"]),
                features=features,
                feature_names=names,
                groups=groups,
            )
