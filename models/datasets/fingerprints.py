"""Per-subject content fingerprints: one subject stored twice (under another id, in another
dataset) must not be trained on as one and tested on as the other (numpy only; the API uses it).

Each subject gets, once at upload (stored with the dataset, ``to_bytes``):

- a ``digest``: sha256 of its matrix rounded to DECIMALS places, and of its rounded features when
  the dataset has them, shapes included. Equal digests are exact copies, whatever the subject
  ids or the dataset names.
- a ``sketch``: its upper triangle (above the diagonal) at up to SKETCH_SIZE fixed positions,
  the same positions for every matrix of R regions; the whole triangle up to R = 64.

A test subject is a copy of a source subject when their digests are equal or when their upper
triangles correlate above NEAR_COPY. Exact hashes alone are not enough: a re-export of the same
matrices rounds differently (a text export at 4 or 6 decimals, a float32 .npz, a tool that adds
tiny noise), and a single value on a rounding edge changes the hash. The correlation is taken on
the sketches, rows standardised once and compared in one matrix product per block of test
subjects: for R > 64 the sampled positions estimate a correlation near 0.999 to within about
(1 - r²)/√2016 ≈ 5e-5, far inside the threshold's margin.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from models.datasets.lineage import Lineage
from models.datasets.types import ConnectomeDataset

DECIMALS = 4
SKETCH_SIZE = 2016  # the whole upper triangle of a 64-region matrix
NEAR_COPY = 0.999
_BLOCK = 512  # test subjects compared per matrix product
_POSITIONS_SEED = 20_26_0109


@dataclass(frozen=True)
class Prints:
    """The fingerprints of some subjects of one dataset, in order."""

    subjects: tuple[str, ...]
    digests: tuple[str, ...]  # sha256 hex
    sketch: np.ndarray  # (N, m) float32

    def __len__(self) -> int:
        return len(self.subjects)

    @cached_property
    def unit(self) -> np.ndarray:
        """The sketch's rows standardised (``_standardised``), computed once per Prints."""
        return _standardised(self.sketch)

    def subset(self, ids) -> "Prints":
        """The subjects among ``ids`` (others are ignored), in this dataset's order."""
        wanted = set(ids)
        keep = [i for i, s in enumerate(self.subjects) if s in wanted]
        return Prints(tuple(self.subjects[i] for i in keep), tuple(self.digests[i] for i in keep),
                      self.sketch[keep])

    def without(self, ids) -> "Prints":
        """Every subject but those among ``ids``."""
        drop = set(ids)
        return self.subset(s for s in self.subjects if s not in drop)


def _positions(n_regions: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(n_regions, k=1)
    if rows.size > SKETCH_SIZE:
        pick = np.sort(np.random.default_rng(_POSITIONS_SEED).choice(rows.size, SKETCH_SIZE, replace=False))
        rows, cols = rows[pick], cols[pick]
    return rows, cols


def _rounded(values: np.ndarray) -> bytes:
    # + 0.0 turns -0.0 into 0.0, so a value rounding to zero from either side hashes alike.
    return (np.round(values.astype(np.float64), DECIMALS) + 0.0).astype("<f8").tobytes()


def _digest(conn: np.ndarray, features: np.ndarray | None) -> str:
    h = hashlib.sha256(f"{conn.shape}:{None if features is None else features.shape}".encode())
    h.update(_rounded(conn))
    if features is not None:
        h.update(_rounded(features))
    return h.hexdigest()


def fingerprint(ds: ConnectomeDataset) -> Prints:
    """Every subject's digest and sketch."""
    rows, cols = _positions(ds.n_regions)
    digests = tuple(_digest(ds.conn[i], None if ds.features is None else ds.features[i])
                    for i in range(ds.n_subjects))
    return Prints(tuple(ds.subjects), digests, np.ascontiguousarray(ds.conn[:, rows, cols], dtype=np.float32))


def to_bytes(prints: Prints) -> bytes:
    """The stored form: an .npz of strings and float32 (nothing to unpickle)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, subjects=np.array(prints.subjects, dtype=str),
                        digests=np.array(prints.digests, dtype=str), sketch=prints.sketch)
    return buf.getvalue()


def from_bytes(blob: bytes) -> Prints:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return Prints(tuple(str(s) for s in z["subjects"]), tuple(str(d) for d in z["digests"]),
                      z["sketch"].astype(np.float32))


def _standardised(sketch: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length (a constant row stays zero and matches nothing), so
    that a row product is the Pearson correlation."""
    x = sketch.astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def copied(test: Prints, source: Prints, same_dataset: bool = False) -> np.ndarray:
    """A bool per test subject: whether ``source`` holds a copy of it (equal digest, or upper
    triangles correlating above NEAR_COPY). ``same_dataset``: both come from one dataset, so a
    subject id found in both is one subject, not a copy of itself."""
    found = np.zeros(len(test), dtype=bool)
    if not len(test) or not len(source):
        return found
    owners: dict[str, set[str]] = {}
    for sid, d in zip(source.subjects, source.digests):
        owners.setdefault(d, set()).add(sid)
    for i, (sid, d) in enumerate(zip(test.subjects, test.digests)):
        found[i] = bool(owners.get(d, set()) - ({sid} if same_dataset else set()))
    if test.sketch.shape[1] == source.sketch.shape[1] and test.sketch.shape[1] >= 3:
        found |= _near(test, source, same_dataset)
    return found


def _near(test: Prints, source: Prints, same_dataset: bool) -> np.ndarray:
    a, b = test.unit, source.unit
    where = {sid: j for j, sid in enumerate(source.subjects)} if same_dataset else {}
    out = np.zeros(len(test), dtype=bool)
    for start in range(0, len(test), _BLOCK):
        corr = a[start:start + _BLOCK] @ b.T
        for i in range(corr.shape[0]):
            j = where.get(test.subjects[start + i])
            if j is not None:
                corr[i, j] = 0.0
        out[start:start + corr.shape[0]] = (corr > NEAR_COPY).any(axis=1)
    return out


@dataclass(frozen=True)
class Source:
    """Subjects of one dataset that were trained or validated on, and by whom. ``key`` is
    ("name", dataset name) or ("checksum", checksum): a test set with the same key is the same
    dataset, whose equal subject ids are one subject, not copies."""

    dataset: str
    prints: Prints
    tasks: tuple[str, ...]
    key: tuple[str, str]


@dataclass(frozen=True)
class Copies:
    """How many subjects of a test set copy subjects of ``dataset`` that ``tasks`` fitted on."""

    dataset: str
    n: int
    tasks: tuple[str, ...]


def copies_in(test: Prints, keys: set[tuple[str, str]], sources: list[Source]) -> tuple[int, list[Copies]]:
    """(how many ``test`` subjects copy some source subject, and per source dataset how many
    copy its subjects); ``keys`` are the test set's own (Source.key)."""
    any_copy = np.zeros(len(test), dtype=bool)
    per: dict[str, tuple[np.ndarray, set[str]]] = {}
    for src in sources:
        found = copied(test, src.prints, src.key in keys)
        if found.any():
            hits, tasks = per.get(src.dataset, (np.zeros(len(test), dtype=bool), set()))
            per[src.dataset] = (hits | found, tasks | set(src.tasks))
            any_copy |= found
    return int(any_copy.sum()), [Copies(name, int(hits.sum()), tuple(sorted(tasks)))
                                 for name, (hits, tasks) in per.items()]


def ancestor_sources(lineage: Lineage, loaded: dict[str, Prints], names: dict[str, str]) -> list[Source]:
    """The subjects ancestors trained or validated on, per dataset checksum they recorded;
    ``loaded``: {checksum: the prints of a dataset of that content} (a deleted one is skipped);
    ``names``: {checksum: the dataset name an ancestor recorded for it}."""
    out = []
    for checksum, seen in lineage.items():
        if seen.fitted and checksum in loaded:
            tasks = tuple(sorted({t for ts in seen.fitted.values() for t in ts}))
            name = names.get(checksum, f"with checksum {checksum[:12]}")
            out.append(Source(name, loaded[checksum].subset(seen.fitted), tasks, ("checksum", checksum)))
    return out
