"""Turn an uploaded file into a validated ``ConnectomeDataset``.

``load_upload`` picks the importer by extension: ``.npz`` (``npz.load_npz``) or a DPABI-style
``.zip`` (``dpabi.load_dpabi_zip``). Both are zip files, so both must start with a zip signature.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import BinaryIO

from models.datasets.dpabi import load_dpabi_zip
from models.datasets.npz import DEFAULT_MAX_BYTES, load_npz
from models.datasets.types import ConnectomeDataset, DatasetImportError
from models.datasets.validate import binary_file

# A local file header, or the end-of-central-directory record of an empty archive.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SUPPORTED = (".npz", ".zip")


def load_upload(filename: str, data: bytes | BinaryIO, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ConnectomeDataset:
    """The dataset in an uploaded file named ``filename``: bytes, or a seekable binary file (an
    upload spooled to disk), which is read in place: only the members, once their declared
    sizes and compression ratios passed, are read into memory.

    ``max_bytes`` bounds the upload, every member and all members together, uncompressed.
    Raises DatasetImportError: empty file, unsupported extension, no zip signature, and whatever
    the chosen importer rejects.
    """
    fh, suffix = open_upload(filename, data)
    if suffix == ".npz":
        return load_npz(fh, max_bytes=max_bytes)
    return load_dpabi_zip(fh, max_member_bytes=max_bytes, max_total_bytes=max_bytes)


def open_upload(filename: str, data: bytes | BinaryIO) -> tuple[BinaryIO, str]:
    """``data`` as a file at its start, and its lower-case suffix, one of ``SUPPORTED``.
    Raises DatasetImportError: empty file, unsupported extension, no zip signature."""
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    fh, size = binary_file(data)
    if not size:
        raise DatasetImportError([f"{filename!r} is empty"])
    if suffix not in SUPPORTED:
        raise DatasetImportError([f"{filename!r}: unsupported file type {suffix or '(none)'!r}; "
                                  "upload an .npz or a DPABI .zip (text matrices plus a label CSV)"])
    head = fh.read(4)
    fh.seek(0)
    if not head.startswith(_ZIP_MAGIC):
        raise DatasetImportError([f"{filename!r} is not a {suffix} file: it does not start with a "
                                  "zip signature"])
    return fh, suffix


__all__ = ["load_upload", "open_upload", "load_npz", "load_dpabi_zip", "SUPPORTED"]
