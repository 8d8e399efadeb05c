"""Reading an uploaded zip or tar archive into memory, safely (stdlib, and the connectome
importers' archive checks).

Nothing is ever extracted to disk by name: members are read into a dict. Even so, an archive that
names a member with an absolute path or a ``..`` component, holds links or device files, or
declares more bytes or members than the limits allow, is refused as a whole, with one message per
offending member.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

from models.datasets.types import DatasetImportError
from models.datasets.validate import binary_file, expansion_problem, ratio_problems, read_member


@dataclass(frozen=True)
class ImportLimits:
    """Upper bounds on what an import reads; exceeding one rejects the upload."""

    max_upload_bytes: int = 2 * 1024**3
    max_total_bytes: int = 4 * 1024**3  # sum of the members' uncompressed sizes
    max_members: int = 500_000
    max_image_pixels: int = 4096 * 4096  # per image, from its header, before decoding
    max_images: int = 500_000
    max_boxes: int = 5_000_000  # detection uploads: objects in all images together


@dataclass
class ArchiveContents:
    files: dict[str, bytes] = field(default_factory=dict)  # normalised name → content
    dirs: set[str] = field(default_factory=set)  # every folder named or implied


def is_ignored(name: str) -> bool:
    """macOS resource forks and dot-files that zip tools add: skipped, never an error."""
    parts = name.split("/")
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts if p)


def unsafe_reason(name: str) -> str | None:
    """Why a member name could escape an extraction folder, or None when it is safe."""
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if "\\" in name:
        return "backslash in path"
    if ".." in name.split("/"):
        return "'..' in path (path traversal)"
    return None


def _norm(name: str) -> str:
    """"a/./b/" → "a/b"; the archive root ("", ".", "./") → ""."""
    norm = posixpath.normpath(name) if name else "."
    return "" if norm == "." else norm


def _add_parent_dirs(contents: ArchiveContents, name: str) -> None:
    parent = posixpath.dirname(name)
    while parent:
        contents.dirs.add(parent)
        parent = posixpath.dirname(parent)


def _check_totals(count: int, total: int, limits: ImportLimits) -> list[str]:
    problems = []
    if count > limits.max_members:
        problems.append(f"archive has {count} members, more than the limit of {limits.max_members}")
    if total > limits.max_total_bytes:
        problems.append(f"archive unpacks to {total} bytes, more than the limit of {limits.max_total_bytes}")
    return problems


def zip_header_problems(zf: zipfile.ZipFile, archive_bytes: int, limits: ImportLimits) -> list[str]:
    """What the central directory alone shows wrong (counts, sizes, zip-bomb ratios, unsafe
    names): checked before any member is inflated, here and by the API before it stores one."""
    infos = zf.infolist()
    problems = _check_totals(len(infos), sum(i.file_size for i in infos), limits)
    problems += ratio_problems(infos, archive_bytes)
    for info in infos:
        reason = unsafe_reason(info.filename)
        if reason:
            problems.append(f"{info.filename}: {reason}")
    return problems


def _read_zip(blob: bytes, limits: ImportLimits) -> ArchiveContents:
    contents = ArchiveContents()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        infos = zf.infolist()
        problems = zip_header_problems(zf, len(blob), limits)
        if problems:
            raise DatasetImportError(problems)
        for info in infos:
            name = _norm(info.filename)
            if not name or is_ignored(name):
                continue
            _add_parent_dirs(contents, name)
            if info.is_dir():
                contents.dirs.add(name)
            else:  # a bounded read: a member holding more than its header declared is refused
                contents.files[name] = read_member(zf, info, info.file_size)
    return contents


def _tar_member_problem(member: tarfile.TarInfo) -> str | None:
    reason = unsafe_reason(member.name)
    if reason:
        return f"{member.name}: {reason}"
    if not (member.isfile() or member.isdir()):
        return f"{member.name}: links and special files are not accepted"
    return None


def _read_tar(blob: bytes, limits: ImportLimits) -> ArchiveContents:
    contents, problems = ArchiveContents(), []
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tf:
        members = tf.getmembers()
        total = sum(m.size for m in members)
        problems += _check_totals(len(members), total, limits)
        problems += [p for p in [expansion_problem("archive", len(blob), total)] if p]
        problems += [p for p in map(_tar_member_problem, members) if p]
        if problems:
            raise DatasetImportError(problems)
        for member in members:
            name = _norm(member.name)
            if not name or is_ignored(name):
                continue
            _add_parent_dirs(contents, name)
            if member.isdir():
                contents.dirs.add(name)
            else:
                contents.files[name] = tf.extractfile(member).read()
    return contents


def declared_problems(blob: bytes | BinaryIO, limits: ImportLimits = ImportLimits()) -> list[str]:
    """For a zip (bytes or a seekable file, read in place): what its central directory shows
    wrong (zip_header_problems), without inflating anything; [] for anything else, or a zip too
    broken to list (the importer says)."""
    fh, size = binary_file(blob)
    try:
        if not zipfile.is_zipfile(fh):
            return []
        with zipfile.ZipFile(fh) as zf:
            return zip_header_problems(zf, size, limits)
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    finally:
        fh.seek(0)


def read_archive(blob: bytes, limits: ImportLimits = ImportLimits()) -> ArchiveContents:
    """The files and folders of a zip or tar (optionally gz/bz2/xz) archive.

    Raises DatasetImportError when the upload is too large, is neither a zip nor a tar, is
    corrupt, or has an unsafe member (each named).
    """
    if len(blob) > limits.max_upload_bytes:
        raise DatasetImportError([f"upload is {len(blob)} bytes, more than the limit of {limits.max_upload_bytes}"])
    try:
        if zipfile.is_zipfile(io.BytesIO(blob)):
            return _read_zip(blob, limits)
        return _read_tar(blob, limits)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetImportError([f"not a readable zip or tar archive: {exc}"]) from exc
