from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.blobstore.moto_server import MotoServer, moto_server


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """One moto S3 server for the session (a child process on a free port)."""
    with moto_server() as server:
        yield server
