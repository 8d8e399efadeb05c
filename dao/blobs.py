"""Blob-store objects tied to the transaction whose rows name them.

An object is written before the row that names it is committed, so a key is never committed
without its bytes. If that transaction rolls back, the objects it wrote are deleted; an object a
row stops naming (a replaced checkpoint, a deleted row) is deleted once the change is committed.
A process killed between the two leaves an object no row names: the reaper's garbage collection
(``garbage``) removes those once they are older than any transaction could be.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import event
from sqlalchemy.orm import Session

from blobstore import BlobStore, Stored, get_store

log = logging.getLogger(__name__)
_WRITTEN = "trainyard.blobs.written"  # keys this transaction wrote: deleted if it rolls back
_RELEASED = "trainyard.blobs.released"  # keys it stopped naming: deleted once it commits
CHUNK = 1 << 20


def put(session: Session, prefix: str, data: bytes | BinaryIO, content_type: str) -> Stored:
    """``data`` (bytes, or a binary file read in chunks) stored under a new key below ``prefix``,
    owned by the session's transaction."""
    stored = get_store().put(f"{prefix}/{uuid.uuid4().hex}", data, content_type=content_type)
    session.info.setdefault(_WRITTEN, []).append(stored.key)
    return stored


def release(session: Session, key: str | None) -> None:
    """Delete ``key`` once the session's transaction commits (nothing if it rolls back)."""
    if key is not None:
        session.info.setdefault(_RELEASED, []).append(key)


# -- reading what a row names: its object, or (rows written before the store) its own bytes ----


def read(key: str | None, in_row: bytes | None) -> bytes | None:
    """The bytes: the object ``key`` names, else those the row keeps itself."""
    return in_row if key is None else get_store().get_bytes(key)


def open_stream(key: str | None, in_row: bytes | None) -> BinaryIO | None:
    """The bytes as a readable stream (close it; a store's stream needs no session)."""
    if key is None:
        return None if in_row is None else io.BytesIO(in_row)
    return get_store().open(key)


@contextlib.contextmanager
def local_file(key: str | None, in_row: bytes | None) -> Iterator[BinaryIO | None]:
    """The bytes as a seekable binary file at its start, for loaders that read in place (np.load,
    zipfile, torch.load), so a worker never holds the object's bytes besides what it loads:
    a store that opens objects seekable (file://) gives its own file, opened read-only; another
    (s3://) is streamed in chunks into a temporary file, deleted when the block ends; a row's own
    bytes come as a BytesIO. None when there are no bytes. Raises BlobNotFound. A session is
    needed only to have read ``key`` and ``in_row``."""
    if key is None:
        yield None if in_row is None else io.BytesIO(in_row)
        return
    with _seekable_copy(get_store().open(key)) as fh:
        yield fh


@contextlib.contextmanager
def _seekable_copy(stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` itself when seekable, else a temporary file holding its bytes (the stream
    closed before the caller reads, so no connection is held meanwhile)."""
    with stream:
        if stream.seekable():
            yield stream
            return
        copy = tempfile.TemporaryFile(prefix="trainyard-blob-")
        try:
            shutil.copyfileobj(stream, copy, CHUNK)
        except BaseException:
            copy.close()
            raise
    with copy:
        copy.seek(0)
        yield copy


def chunks(key: str | None, in_row: bytes | None) -> Iterator[bytes] | bytes | None:
    """The bytes for a response body: streamed from the store (needs no session), or the row's."""
    return in_row if key is None else _stream(key)


def presigned_url(key: str | None, seconds: int, **answer: str | None) -> str | None:
    """A URL that GETs ``key``'s object without credentials for ``seconds`` (``answer``: the
    store's ``presigned_url`` keywords), or None: the row keeps its own bytes, ``seconds`` is 0,
    or the store has no such URLs (file://)."""
    if key is None or seconds == 0:
        return None
    return get_store().presigned_url(key, seconds, **answer)


def _stream(key: str) -> Iterator[bytes]:
    with get_store().open(key) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


@dataclass
class Garbage:
    orphans: list[str] = field(default_factory=list)  # objects no row names, old enough to delete
    missing: list[str] = field(default_factory=list)  # keys rows name whose object is gone


def garbage(store: BlobStore, prefix: str, named: Iterable[str], written_before: dt.datetime) -> Garbage:
    """Compare the objects under ``prefix`` with the keys rows name (``named``, read before the
    listing). An object younger than ``written_before`` may belong to a transaction still in
    flight, so it is never an orphan."""
    named, found = set(named), Garbage()
    listed = set()
    for info in store.iter_keys(prefix):
        listed.add(info.key)
        if info.key not in named and info.last_modified < written_before:
            found.orphans.append(info.key)
    found.missing = sorted(named - listed)
    return found


def _delete(keys: list[str], why: str) -> None:
    store = get_store()
    for key in keys:
        try:
            store.delete(key)
        except Exception as exc:  # noqa: BLE001 - the reaper's garbage collection removes it later
            log.warning("blob %s (%s) not deleted: %s", key, why, exc)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_WRITTEN, None)
    _delete(session.info.pop(_RELEASED, []), "no longer named")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_RELEASED, None)
    _delete(session.info.pop(_WRITTEN, []), "its transaction rolled back")
