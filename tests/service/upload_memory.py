"""Measuring what one large upload costs an API worker: the multipart body is written to a file
first (so the test process never holds it) and sent with its Content-Length, or chunked; the
worker's RSS is sampled from another thread while the request runs."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

MIB = 1 << 20


@dataclass
class Rss:
    before: int
    peak: int
    after: int

    def growth(self) -> int:
        return max(self.peak, self.after) - self.before

    def __str__(self) -> str:
        return (f"RSS before {self.before / MIB:.1f} MiB, peak {self.peak / MIB:.1f} MiB, "
                f"after {self.after / MIB:.1f} MiB")


def random_file(folder: Path, size: int) -> Path:
    path = folder / "random.bin"
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))
    return path


def stored_zip(folder: Path, member: str, size: int) -> Path:
    """A zip holding one uncompressed member of ``size`` random bytes: a well-formed archive
    the API must store (only the MXNet worker can tell it holds no image)."""
    path = folder / "archive.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf, zf.open(member, "w", force_zip64=True) as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
    return path


def multipart_file(folder: Path, filename: str, content: Path, fields: dict[str, str]) -> tuple[Path, str]:
    """A multipart/form-data body on disk: ``fields`` plus a file part ``file`` named
    ``filename`` holding ``content``. Returns the path and the Content-Type (with its boundary)."""
    boundary = uuid.uuid4().hex
    path = folder / "body.bin"
    with path.open("wb") as out, content.open("rb") as src:
        for key, value in fields.items():
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n".encode())
        shutil.copyfileobj(src, out, MIB)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return path, f"multipart/form-data; boundary={boundary}"


def api_workers(api_pid: int) -> list[psutil.Process]:
    """The gunicorn worker processes under the API's process group leader."""
    return [p for p in psutil.Process(api_pid).children(recursive=True) if not p.children()]


def _sample(procs: list[psutil.Process], stop: threading.Event, peaks: dict[int, int]) -> None:
    while not stop.is_set():
        for p in procs:
            try:
                peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.01)


def measure_upload(url: str, headers: dict, body: Path, content_type: str, workers: list[psutil.Process],
                   chunked: bool = False) -> tuple[requests.Response, Rss]:
    """POST ``body`` to ``url`` and the RSS of the worker that grew most (every worker is
    sampled: which one answers is gunicorn's choice). ``chunked``: no Content-Length."""
    before = {p.pid: p.memory_info().rss for p in workers}
    peaks = dict(before)
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(workers, stop, peaks), daemon=True)
    sampler.start()
    try:
        with body.open("rb") as fh:
            data = iter(lambda: fh.read(MIB), b"") if chunked else fh
            response = requests.post(url, data=data, headers={**headers, "Content-Type": content_type},
                                     timeout=600)
        time.sleep(0.3)
    finally:
        stop.set()
        sampler.join()
    after = {p.pid: p.memory_info().rss for p in workers}
    pid = max(before, key=lambda k: max(peaks[k], after[k]) - before[k])
    return response, Rss(before[pid], peaks[pid], after[pid])
