"""``file:///abs/path``: objects are files under one directory (the embedded default,
``$TRAINYARD_VAR_DIR/artifacts``). A put writes a temporary file beside the target
(``.tmp-*``, never a valid key) and renames it over the target once complete and fsynced, so a
reader sees the old object or the new one, never a part.

Unlike S3, a key here cannot be both an object and the "directory" of others (``a`` and
``a/b``): such a put fails with an OSError (NotADirectoryError, IsADirectoryError, FileExistsError);
keys are to be designed so that never happens (every object key ends in a file name).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from blobstore.base import (DEFAULT_CONTENT_TYPE, BlobInfo, BlobNotFound, BlobStore, HashingReader, Source,
                            Stored, check_presign_seconds)
from blobstore.keys import validate_key, validate_prefix

_COPY_CHUNK = 1 << 20
TEMP_PREFIX = ".tmp-"


class FileStore(BlobStore):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        root = Path(root)
        if not root.is_absolute():
            raise ValueError(f"the file store's root must be an absolute path, not {str(root)!r}")
        self.root = Path(os.path.normpath(root))
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root.joinpath(*key.split("/"))
        # belt and braces: validate_key already rules out '..' and absolute keys
        if os.path.commonpath([self.root, path]) != str(self.root):
            raise ValueError(f"blob key {key!r} escapes the store")
        return path

    def put(self, key: str, data: Source, *, content_type: str = DEFAULT_CONTENT_TYPE,
            max_bytes: int | None = None) -> Stored:
        # content_type: the database keeps it; the file store has nowhere to put it
        path = self._path(key)
        reader = HashingReader(data, max_bytes=max_bytes, chunk_size=_COPY_CHUNK)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{TEMP_PREFIX}{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(_COPY_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return Stored(key, reader.size, reader.sha256)

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(f"no blob {key!r} in {self.url}") from None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        # directories stay: removing one could race a put that has just made it

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        head, _, _ = prefix.rpartition("/")
        start = self.root.joinpath(*head.split("/")) if head else self.root
        base = f"{head}/" if head else ""
        yield from self._walk(start, base, prefix)

    def _walk(self, directory: Path, base: str, prefix: str) -> Iterator[BlobInfo]:
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return
        # key order: "a/b" sorts after "a-b" and before "a0" ('/' is between '-' and '0')
        items = []
        for entry in entries:
            if entry.name.startswith("."):  # temporary files of puts in flight
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            items.append((f"{base}{entry.name}/" if is_dir else f"{base}{entry.name}", entry, is_dir))
        items.sort(key=lambda item: item[0])
        for name, entry, is_dir in items:
            if is_dir:
                if name.startswith(prefix) or prefix.startswith(name):
                    yield from self._walk(Path(entry.path), name, prefix)
            elif name.startswith(prefix):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while listing
                    continue
                yield BlobInfo(name, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.timezone.utc))

    def presigned_url(self, key: str, seconds: int = 300, *, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        validate_key(key)
        check_presign_seconds(seconds)
        return None


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
