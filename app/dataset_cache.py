"""Metadata of registered datasets, remembered for a few seconds per API process.

The submit path checks every dataset a form names; a READY dataset never changes (it can only
be deleted), so a short memory saves a query per submission. A task naming a dataset deleted in
those seconds is still refused by its worker, with a message naming the dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dao import dataset_queries
from contracts.statuses import DatasetStatus

TTL_SECONDS = 5.0
_remembered: dict[str, tuple[float, "DatasetInfo"]] = {}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str
    status: str
    meta: dict[str, Any]
    checksum: str = ""
    project_id: str | None = None  # None: shared with every project


def dataset_infos(session: Session, names: list[str]) -> dict[str, DatasetInfo]:
    """The named datasets that exist (READY ones possibly from memory)."""
    now = time.monotonic()
    found = {n: _remembered[n][1] for n in names if n in _remembered and _remembered[n][0] > now}
    missing = [n for n in dict.fromkeys(names) if n not in found]
    for row in dataset_queries.find_datasets(session, missing).values() if missing else ():
        info = DatasetInfo(row.name, row.kind, row.status, dict(row.meta), row.checksum, row.project_id)
        found[row.name] = info
        if info.status == DatasetStatus.READY.value:
            _remembered[row.name] = (now + TTL_SECONDS, info)
    return found


def forget(name: str) -> None:
    _remembered.pop(name, None)
