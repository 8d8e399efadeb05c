"""PNG writing and PNG/JPEG size peeking, stdlib + numpy only.

``encode_png`` lets the service (and tests) export an image dataset as a zip of class folders or a
RecordIO file without OpenCV or Pillow; ``peek_image_size`` reads an image's declared size from its
header so an oversized image is refused before anything decodes it.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(image: np.ndarray) -> bytes:
    """An 8-bit PNG of ``image`` (H×W, H×W×1 grey, or H×W×3 RGB, uint8).

    Raises ValueError for any other shape or dtype.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"encode_png needs uint8, got {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        colour_type, rows = 0, arr
    elif arr.ndim == 3 and arr.shape[2] == 3:
        colour_type, rows = 2, arr.reshape(arr.shape[0], -1)
    else:
        raise ValueError(f"encode_png needs H×W, H×W×1 or H×W×3, got {arr.shape}")
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + row.tobytes() for row in np.ascontiguousarray(rows))
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def _png_size(buf: bytes) -> tuple[int, int] | None:
    if len(buf) < 24 or buf[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", buf[16:24])
    return int(w), int(h)


def _jpeg_size(buf: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(buf):
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            pos += 2
            continue
        (length,) = struct.unpack(">H", buf[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(buf):
                return None
            h, w = struct.unpack(">HH", buf[pos + 5 : pos + 9])
            return int(w), int(h)
        pos += 2 + length
    return None


def image_format(buf: bytes) -> str | None:
    """"png", "jpeg" or None, from the leading bytes."""
    if buf.startswith(PNG_SIGNATURE):
        return "png"
    if buf.startswith(b"\xff\xd8"):
        return "jpeg"
    return None


def peek_image_size(buf: bytes) -> tuple[int, int] | None:
    """(width, height) declared by a PNG or JPEG header; None when ``buf`` is neither or the
    header is cut short. Never raises."""
    fmt = image_format(buf)
    if fmt == "png":
        return _png_size(buf)
    if fmt == "jpeg":
        return _jpeg_size(buf)
    return None


def looks_complete(buf: bytes) -> bool:
    """True when a PNG ends with its IEND chunk or a JPEG with its EOI marker (a truncated upload
    does not; OpenCV would quietly decode what it has)."""
    fmt = image_format(buf)
    if fmt == "png":
        return len(buf) >= 12 and buf[-12:-4] == b"\x00\x00\x00\x00IEND"
    if fmt == "jpeg":
        return b"\xff\xd9" in buf[-32:]
    return False
