"""Reading datasets' subject fingerprints (models.datasets.fingerprints) for the copy checks: the
API's before queueing (app.usecases.subject_copies) and the worker's mark of a task that allowed them
(tasks.job_inputs). A dataset stored before fingerprints existed has none: its arrays are read
and fingerprinted in memory (numpy only)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dao import dataset_queries, lineage_queries
from models.datasets.fingerprints import Prints, Source, ancestor_sources, copies_in, fingerprint, from_bytes
from models.datasets.lineage import Lineage
from models.datasets.types import ConnectomeDataset
from tasks.stored_datasets import read_dataset


def load_prints(session: Session, names: dict[str, str] | None = None,
                checksums=()) -> tuple[dict[str, Prints], dict[str, Prints]]:
    """The prints of the connectome datasets ``names`` ({name: its checksum} -> {name: prints})
    and of one dataset per checksum in ``checksums`` or of ``names`` ({checksum: prints}; which
    dataset of that content is read does not matter, and its name is not used: it may be another
    project's). A dataset's content, and so its prints, is fixed by its checksum: prints are kept
    per process by checksum, and only those not kept yet are read (one query)."""
    names = names or {}
    wanted = {*names.values(), *checksums}
    missing = wanted - _KEPT.keys()
    if missing:
        for name, checksum, blob in dataset_queries.subject_prints(session, checksums=missing):
            if checksum not in _KEPT:
                _keep(checksum, from_bytes(blob) if blob else fingerprint(read_dataset(session, name)))
    by_sum = {c: _KEPT[c] for c in wanted if c in _KEPT}
    return {n: by_sum[c] for n, c in names.items() if c in by_sum}, by_sum


_KEPT: dict[str, Prints] = {}  # checksum -> the prints of a dataset of that content
_KEPT_MAX = 64


def _keep(checksum: str, prints: Prints) -> None:
    if len(_KEPT) >= _KEPT_MAX:
        _KEPT.clear()
    _KEPT[checksum] = prints


def fitted_checksums(lineage: Lineage) -> list[str]:
    """The datasets (by checksum) the ancestors in ``lineage`` trained or validated on."""
    return [c for c, seen in lineage.items() if seen.fitted]


def ancestors_fitted(session: Session, parent_id: str | None, lineage: Lineage,
                     by_checksum: dict[str, Prints] | None = None) -> list[Source]:
    """What the ancestors in ``lineage`` (of ``parent_id`` and up) trained or validated on, as
    copy-check sources named as the ancestors recorded their datasets. ``by_checksum``: the
    prints of ``fitted_checksums(lineage)`` when the caller loaded them already."""
    fitted = fitted_checksums(lineage)
    if parent_id is None or not fitted:
        return []
    names = {c: n for _, record in reversed(lineage_queries.ancestor_records(session, parent_id, "checksums"))
             for n, c in (record or {}).items()}
    if by_checksum is None:
        by_checksum = load_prints(session, checksums=fitted)[1]
    return ancestor_sources(lineage, by_checksum, names)


def mark_copies(session: Session, datasets: dict[str, ConnectomeDataset], record: dict,
                checksums: dict[str, str], parent_id: str | None, lineage: Lineage) -> None:
    """For a task that allowed testing on seen subjects: its split ``record``'s ``seen_in_test``
    gets ``copies``, {"n": how many test subjects copy a subject this task or its ancestors fitted
    on, "datasets": {copied dataset: how many}}, when some do. A subject an ancestor fitted on
    itself (same checksum and id) is not a copy: ``seen_in_test.n`` counts it. Cross-validated,
    every pooled subject is both."""
    ids = {role: _by_dataset(r["subjects"]) for role, r in record["roles"].items()}
    tested = ids["train"] if "cv" in record else ids["test"]
    fitted = {n: [*ids["train"].get(n, []), *ids["val"].get(n, [])] for n in {*ids["train"], *ids["val"]}}
    prints = {n: fingerprint(datasets[n]) for n in {*tested, *fitted}}
    sources = [Source(n, prints[n].subset(v), ("this task",), ("name", n)) for n, v in fitted.items()]
    sources += ancestors_fitted(session, parent_id, lineage)
    total, per = 0, {}
    for name, v in tested.items():
        n, found = copies_in(prints[name].subset(v), {("name", name), ("checksum", checksums.get(name, ""))},
                             sources)
        total += n
        for c in found:
            per[c.dataset] = per.get(c.dataset, 0) + c.n
    if total:
        record.setdefault("seen_in_test", {"n": 0, "tasks": {}})["copies"] = {"n": total, "datasets": per}


def _by_dataset(pairs: list[list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, sid in pairs:
        out.setdefault(name, []).append(sid)
    return out
