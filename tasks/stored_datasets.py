"""Reading a stored connectome dataset where a job (or the API's copy check) needs its arrays."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dao import dataset_queries
from models.datasets.types import ConnectomeDataset


def read_dataset(session: Session, name: str) -> ConnectomeDataset:
    """The stored connectome dataset, parsed in place from its local file (never its bytes in
    memory beside the arrays). Raises DatasetNotFound (a LookupError)."""
    with dataset_queries.local_file(session, name) as fh:
        return ConnectomeDataset.from_npz(fh)
