"""A real S3 endpoint for tests: moto in server mode, as a child process on a free port.

    with moto_server() as s3:
        s3.create_bucket("artifacts")
        store = store_from_url("s3://artifacts/x", **s3.store_options())

Importable from any test directory (``from tests.blobstore.moto_server import moto_server``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

ACCESS_KEY_ID = "testing"
SECRET_ACCESS_KEY = "testing"
REGION = "us-east-1"


@dataclasses.dataclass
class MotoServer:
    endpoint_url: str
    process: subprocess.Popen

    def store_options(self) -> dict:
        """Keyword arguments of ``blobstore.store_from_url`` for this endpoint."""
        return dict(endpoint_url=self.endpoint_url, region=REGION, access_key_id=ACCESS_KEY_ID,
                    secret_access_key=SECRET_ACCESS_KEY, path_style=True)

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """``TRAINYARD_ARTIFACT_*`` variables pointing a service process at this endpoint."""
        return {
            "TRAINYARD_ARTIFACT_URL": f"s3://{bucket}/{prefix}".rstrip("/"),
            "TRAINYARD_ARTIFACT_S3_ENDPOINT_URL": self.endpoint_url,
            "TRAINYARD_ARTIFACT_S3_REGION": REGION,
            "TRAINYARD_ARTIFACT_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "TRAINYARD_ARTIFACT_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "TRAINYARD_ARTIFACT_S3_PATH_STYLE": "true",
        }

    def client(self):  # noqa: ANN201 - a boto3 S3 client
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY, config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(timeout: float = 60.0) -> Iterator[MotoServer]:
    """Start ``python -m moto.server`` on a free port, wait until it answers, stop it at exit."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
           "AWS_DEFAULT_REGION": REGION}
    log = tempfile.TemporaryFile()  # its request log; read back only if it fails to start
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"moto server exited {process.returncode}: "
                                   f"{log.read().decode(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not answer on {endpoint} within {timeout:.0f} s") from None
                time.sleep(0.2)
        yield MotoServer(endpoint, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
