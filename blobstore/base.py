"""The interface every backend implements, and what it returns."""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple, Protocol, Union

from contracts.settings import MAX_PRESIGN_SECONDS


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# bytes-like, a readable binary file object, or an iterator/iterable of bytes chunks
Source = Union[bytes, bytearray, memoryview, Readable, Iterable[bytes]]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class Stored(NamedTuple):
    """What ``put`` wrote: the key, its size in bytes and the hex sha256 of its bytes."""

    key: str
    size: int
    sha256: str


class BlobInfo(NamedTuple):
    """One object of a listing (``iter_keys``): key, size in bytes, last modified (UTC, aware)."""

    key: str
    size: int
    last_modified: dt.datetime


class BlobNotFound(FileNotFoundError, KeyError):
    """No object under this key (a FileNotFoundError and a KeyError both catch it)."""

    def __str__(self) -> str:  # KeyError's str() would quote the message
        return str(self.args[0]) if self.args else "blob not found"


class BlobTooLarge(ValueError):
    """``put(..., max_bytes=N)`` read more than N bytes; nothing was stored."""


def _as_bytes(chunk: object) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"a blob source gave {type(chunk).__name__}, not bytes (open files in binary mode)")


class HashingReader:
    """A read-only, non-seekable stream over any ``Source`` that counts and hashes the bytes
    as they pass. ``read(n)`` returns exactly n bytes unless the source is exhausted (s3transfer
    sizes a multipart part by one ``read`` call). Raises ``BlobTooLarge`` past ``max_bytes``."""

    def __init__(self, source: Source, max_bytes: int | None = None, chunk_size: int = 1 << 20) -> None:
        self.size = 0
        self._hash = hashlib.sha256()
        self._max_bytes = max_bytes
        self._chunk_size = chunk_size
        self._buffer = b""  # read past the last request
        self._eof = False
        self._read_source = None
        self._iter: Iterator[object] | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):  # in chunks: never a copy of the rest
            view = memoryview(source).cast("B")
            self._iter = (view[i:i + chunk_size] for i in range(0, view.nbytes, chunk_size))
        elif hasattr(source, "read"):
            self._read_source = source.read
        elif isinstance(source, Iterable) and not isinstance(source, str):
            self._iter = iter(source)
        else:
            raise TypeError("put() takes bytes, a readable binary file or an iterator of bytes, "
                            f"not {type(source).__name__}")

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def _next_chunk(self) -> bytes:
        """The next non-empty chunk of the source, b"" at its end."""
        if self._read_source is not None:
            return _as_bytes(self._read_source(self._chunk_size))
        assert self._iter is not None
        for chunk in self._iter:
            data = _as_bytes(chunk)
            if data:
                return data
        return b""

    def read(self, size: int | None = -1, /) -> bytes:
        want = None if size is None or size < 0 else size
        parts, have = [], 0
        if self._buffer:
            parts.append(self._buffer)
            have = len(self._buffer)
            self._buffer = b""
        while not self._eof and (want is None or have < want):
            chunk = self._next_chunk()
            if not chunk:
                self._eof = True
                break
            self.size += len(chunk)
            if self._max_bytes is not None and self.size > self._max_bytes:
                raise BlobTooLarge(f"more than {self._max_bytes} bytes")
            self._hash.update(chunk)
            parts.append(chunk)
            have += len(chunk)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        del parts
        if want is not None and len(out) > want:
            out, self._buffer = out[:want], out[want:]
        return out

    def at_eof(self) -> bool:
        return self._eof and not self._buffer


class BlobStore(abc.ABC):
    """Bytes under validated keys (``blobstore.keys``). Every method is safe to call from
    several threads at once."""

    #: where the store is, for logs and errors (never credentials)
    url: str

    @abc.abstractmethod
    def put(self, key: str, data: Source, *, content_type: str = DEFAULT_CONTENT_TYPE,
            max_bytes: int | None = None) -> Stored:
        """Store ``data`` under ``key`` (replacing any object there), streaming: size and sha256
        are computed on the way and a large object goes up in parts, so memory stays bounded.
        On any error (the source raising, more than ``max_bytes``: ``BlobTooLarge``, the store
        failing) no new object is left under ``key``; an object that was there stays as it was."""

    @abc.abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object (close it, or use ``with``); ``BlobNotFound``."""

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory (small objects only); ``BlobNotFound``."""
        with self.open(key) as stream:
            return stream.read()

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every object whose key starts with ``prefix``, in key order, as (key, size,
        last_modified); for garbage collection. Uploads in flight are not listed."""

    @abc.abstractmethod
    def presigned_url(self, key: str, seconds: int = 300, *, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        """A URL that GETs the object without credentials for ``seconds``; None where the
        store has none (file://). Its answer carries ``content_type`` and ``disposition``
        (a Content-Disposition, so a browser keeps the file name) where given. It does not
        check that the object exists."""

    def close(self) -> None:
        """Release connections (the store must not be used afterwards)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


def check_presign_seconds(seconds: int) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"a presigned URL lives 1..{MAX_PRESIGN_SECONDS} seconds, not {seconds!r}")
    return seconds
