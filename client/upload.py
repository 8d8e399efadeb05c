"""A multipart body that reports how much of it has been sent (the upload progress bar)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Callable

Progress = Callable[[int, int], None]  # (bytes sent, bytes in all)


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")


def multipart(path: str, fields: dict[str, str]) -> tuple[bytes, str]:
    """(body, Content-Type) of a multipart/form-data request: ``fields`` and the file as ``file``."""
    boundary = secrets.token_hex(16)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(k)}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                  f'filename="{_quoted(Path(path).name)}"\r\n'
                  'Content-Type: application/octet-stream\r\n\r\n').encode())
    parts += [Path(path).read_bytes(), f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class ProgressBody:
    """The encoded body; requests reads it in blocks, and each read is reported."""

    def __init__(self, path: str, fields: dict[str, str], progress: Progress | None):
        self.data, self.content_type = multipart(path, fields)
        self.sent, self.progress = 0, progress

    def __len__(self) -> int:
        return len(self.data)

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.sent + size
        chunk = self.data[self.sent:end]
        self.sent += len(chunk)
        if self.progress is not None and chunk:
            self.progress(self.sent, len(self.data))
        return chunk
