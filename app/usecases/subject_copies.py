"""Refuse a form that would test on a copy of a subject that it or its ancestors trained or
validated on, whatever the datasets' names and the subjects' ids: equal fingerprints, or upper
triangles correlating above 0.999 (models.datasets.fingerprints says why both).

The test candidates are every subject of each test dataset the ancestors did not fit on (the
split is made by the worker, so a dataset also trained on by this form counts whole: a copy
inside it could land on both sides). The sources are every subject of the form's train and
validation datasets and the subjects the ancestors fitted on, per recorded checksum; only those
are compared, so the check stays a few matrix products per submission."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.datasets.fingerprints import NEAR_COPY, Copies, Source, copies_in
from models.datasets.lineage import Lineage
from tasks.subject_prints import ancestors_fitted, fitted_checksums, load_prints

Problems = list[tuple[str, str]]


def copy_problems(session: Session, tests: list[tuple[str, str]], fit: list[str], checksums: dict[str, str],
                  parent_id: str | None, lineage: Lineage, allow_seen_test: bool) -> Problems:
    """One problem per test dataset holding copies, naming the datasets they copy and how many.
    ``tests``: (form field, dataset name) of the datasets tested on; ``fit``: the names of those
    trained or validated on; ``checksums``: {name: checksum}; ``lineage``: the ancestors' (of
    ``parent_id`` and up)."""
    if allow_seen_test or not tests:
        return []
    named = {n: checksums[n] for n in [*(n for _, n in tests), *fit] if n in checksums}
    if lineage:
        return _problems(session, tests, fit, named, parent_id, lineage)
    # Without ancestors the answer depends on the datasets' contents alone (their checksums):
    # a sweep or a load of like forms reuses it instead of comparing the matrices again.
    key = (tuple(tests), tuple(fit), tuple(sorted(named.items())))
    if key not in _VERDICTS:
        if len(_VERDICTS) >= _VERDICTS_MAX:
            _VERDICTS.clear()
        _VERDICTS[key] = _problems(session, tests, fit, named, None, {})
    return list(_VERDICTS[key])


_VERDICTS: dict[tuple, Problems] = {}
_VERDICTS_MAX = 256


def _problems(session: Session, tests: list[tuple[str, str]], fit: list[str], checksums: dict[str, str],
              parent_id: str | None, lineage: Lineage) -> Problems:
    prints, by_checksum = load_prints(session, checksums, fitted_checksums(lineage))
    sources = [Source(n, prints[n], ("this task",), ("name", n)) for n in dict.fromkeys(fit) if n in prints]
    sources += ancestors_fitted(session, parent_id, lineage, by_checksum)
    problems: Problems = []
    for field, name in tests:
        if name not in prints:
            continue
        seen = lineage.get(checksums.get(name, ""))
        test = prints[name].without(seen.fitted) if seen else prints[name]
        n, found = copies_in(test, {("name", name), ("checksum", checksums.get(name, ""))}, sources)
        if n:
            problems.append((field, _message(name, len(test), n, found)))
    return problems


def _message(name: str, pool: int, n: int, found: list[Copies]) -> str:
    where = "; ".join(f"{c.n} copy subjects of dataset {c.dataset!r} that {_who(c.tasks)} trained or validated on"
                      for c in found)
    return (f"{n} of the {pool} subjects of dataset {name!r} to test on are copies (an equal matrix, or upper "
            f"triangles correlating above {NEAR_COPY}) of subjects used for training: {where}; set "
            f"allow_seen_test to true to test on them anyway (the result is then marked)")


def _who(tasks: tuple[str, ...]) -> str:
    return ", ".join("this task" if t == "this task" else f"task {t}" for t in tasks)
