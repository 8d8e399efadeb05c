"""Turn an uploaded file into a validated ``ConnectomeDataset``.

``load_upload`` picks the importer by extension: ``.npz`` (``npz.load_npz``) or a DPABI-style
``.zip`` (``dpabi.load_dpabi_zip``). Both are zip files, so both must start with a zip signature.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from models.datasets.dpabi import load_dpabi_zip
from models.datasets.npz import DEFAULT_MAX_BYTES, load_npz
from models.datasets.types import ConnectomeDataset, DatasetImportError

# A local file header, or the end-of-central-directory record of an empty archive.
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
SUPPORTED = (".npz", ".zip")


def load_upload(filename: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ConnectomeDataset:
    """The dataset in an uploaded file named ``filename``.

    ``max_bytes`` bounds the upload, every member and all members together, uncompressed.
    Raises DatasetImportError: empty file, unsupported extension, no zip signature, and whatever
    the chosen importer rejects.
    """
    suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if not data:
        raise DatasetImportError([f"{filename!r} is empty"])
    if suffix not in SUPPORTED:
        raise DatasetImportError([f"{filename!r}: unsupported file type {suffix or '(none)'!r}; "
                                  "upload an .npz or a DPABI .zip (text matrices plus a label CSV)"])
    if not data.startswith(_ZIP_MAGIC):
        raise DatasetImportError([f"{filename!r} is not a {suffix} file: it does not start with a "
                                  "zip signature"])
    if suffix == ".npz":
        return load_npz(data, max_bytes=max_bytes)
    return load_dpabi_zip(data, max_member_bytes=max_bytes, max_total_bytes=max_bytes)


__all__ = ["load_upload", "load_npz", "load_dpabi_zip", "SUPPORTED"]
