"""Parts of an open file or of bytes already in memory, as upload bodies that read from the
source itself, never from a copy.

s3transfer reads every part of a file *object* into memory (a seekable one too: one ``bytes``
per part, up to ``transfer_threads`` parts at once and more while they are signed and sent);
only a file *name* streams. What is uploaded here is an open file (werkzeug's spooled upload, a
worker's temporary file), often without a name, or bytes an engine made (weights, a
checkpoint), so ``s3.S3Store`` sends each part as a ``PartReader``: ``os.pread`` on the file's
descriptor (parts on several threads share one descriptor without sharing a position), or
slices of a memoryview.
"""

from __future__ import annotations

import io
import os
from typing import Protocol

HASH_CHUNK = 1 << 20


class Ranged(Protocol):
    """A source of ``size`` bytes readable at any offset, from several threads at once."""

    size: int

    def read_at(self, offset: int, n: int) -> bytes: ...

    def hash_range(self, offset: int, n: int, digest) -> int: ...  # noqa: ANN001


class OpenFile:
    """The bytes of an OS-level file from ``start`` to its end (as measured: the file must not
    change while it is uploaded)."""

    def __init__(self, fd: int, start: int, size: int) -> None:
        self.fd, self.start, self.size = fd, start, size

    def read_at(self, offset: int, n: int) -> bytes:
        return os.pread(self.fd, n, self.start + offset)

    def hash_range(self, offset: int, n: int, digest) -> int:  # noqa: ANN001 - a hashlib object
        """Feed ``n`` bytes from ``offset`` to ``digest``; the bytes read (fewer when the file
        ended early)."""
        done = 0
        while done < n:
            chunk = self.read_at(offset + done, min(HASH_CHUNK, n - done))
            if not chunk:
                break
            digest.update(chunk)
            done += len(chunk)
        return done


class Buffer:
    """Bytes-like data already in memory, read as slices (no copy of the whole)."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.view = memoryview(data).cast("B")
        self.size = self.view.nbytes

    def read_at(self, offset: int, n: int) -> bytes:
        return bytes(self.view[offset:offset + n])

    def hash_range(self, offset: int, n: int, digest) -> int:  # noqa: ANN001 - a hashlib object
        piece = self.view[offset:offset + n]
        digest.update(piece)
        return piece.nbytes


def ranged(source: object, at_least: int) -> Ranged | None:
    """``source`` as a Ranged when it holds ``at_least`` bytes (from its position on, for a
    file) and is bytes-like or a seekable binary file with a descriptor; else None (smaller
    sources are not worth the extra calls; streams and iterators are read as they come)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        buffer = Buffer(source)
        return buffer if buffer.size >= at_least else None
    return _open_file(source, at_least)


def _open_file(source: object, at_least: int) -> OpenFile | None:
    """The size is taken before asking for the descriptor: a SpooledTemporaryFile moves to disk
    when asked for one."""
    if isinstance(source, io.TextIOBase):
        return None
    try:
        if not (source.seekable() and source.readable()):  # type: ignore[attr-defined]
            return None
        start = source.tell()  # type: ignore[attr-defined]
        end = source.seek(0, os.SEEK_END)  # type: ignore[attr-defined]  (flushes what a writer buffered)
        source.seek(start)  # type: ignore[attr-defined]
        if end - start < at_least:
            return None
        fd = source.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return OpenFile(fd, start, end - start)


class PartReader(io.RawIOBase):
    """``size`` bytes of a Ranged from ``start``, readable and seekable (botocore seeks back to
    sign the payload and to retry), read as the HTTP client asks."""

    def __init__(self, source: Ranged, start: int, size: int) -> None:
        super().__init__()
        self._source, self._start, self._size, self._pos = source, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        self._pos = min(max(0, base + offset), self._size)
        return self._pos

    def read(self, size: int = -1, /) -> bytes:
        left = self._size - self._pos
        want = left if size is None or size < 0 else min(size, left)
        if want <= 0:
            return b""
        data = self._source.read_at(self._start + self._pos, want)
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
