"""Uploads built in memory for the importer tests: zips and tars of class folders, RecordIO pairs."""

from __future__ import annotations

import io
import struct
import tarfile
import tempfile
import zipfile
from pathlib import Path

import mxnet as mx
import numpy as np

from models.mxnet_backend.png import PNG_SIGNATURE, _chunk, encode_png

JPEG = (Path(__file__).parent / "data" / "tiny.jpg").read_bytes()  # 10×6 RGB: red left, blue right


def png(h: int = 8, w: int = 8, c: int = 3, value: int = 0) -> bytes:
    """A PNG whose pixels are ``value`` + a gradient, so that content round-trips can be checked."""
    return encode_png(pixels(h, w, c, value))


def pixels(h: int = 8, w: int = 8, c: int = 3, value: int = 0) -> np.ndarray:
    base = (np.arange(h * w * c, dtype=np.int64).reshape(h, w, c) + value) % 256
    return base.astype(np.uint8)


def corrupt_png() -> bytes:
    """Valid signature, header and end, garbage pixel data."""
    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"not zlib data") + _chunk(b"IEND", b"")


def huge_header_png(w: int = 5000, h: int = 5000) -> bytes:
    """A small file declaring a large image (a decompression bomb's header)."""
    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")


def zip_of(members: dict[str, bytes | None]) -> bytes:
    """A zip; a ``None`` value makes a folder entry (name ending in "/")."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            if data is None:
                zf.writestr(zipfile.ZipInfo(name if name.endswith("/") else name + "/"), b"")
            else:
                zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def tar_of(members: dict[str, bytes], mode: str = "w:gz", symlink: str | None = None) -> bytes:
    """A tar (gzip by default), optionally with a symbolic link named ``symlink``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(link)
    return buf.getvalue()


def recordio(records: list[tuple[object, bytes]]) -> tuple[bytes, bytes]:
    """(.rec, .idx) bytes written by MXNet itself, record i keyed i with label ``records[i][0]``."""
    with tempfile.TemporaryDirectory() as tmp:
        rec, idx = Path(tmp, "d.rec"), Path(tmp, "d.idx")
        writer = mx.recordio.MXIndexedRecordIO(str(idx), str(rec), "w")
        for i, (label, data) in enumerate(records):
            writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, label, i, 0), data))
        writer.close()
        return rec.read_bytes(), idx.read_bytes()
