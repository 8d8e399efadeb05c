"""The image importers' archive reader (what the MXNet worker runs; stdlib and numpy only)
refuses zip and tar.gz bombs from their headers, before inflating them, like the connectome
path does."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from models.datasets.types import DatasetImportError
from models.mxnet_backend.archive import declared_problems, read_archive

ZEROS = 24 << 20  # 24 MiB of zeros deflate ~1000x


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("cat/1.png", "w") as fh:
            for _ in range(ZEROS >> 20):
                fh.write(bytes(1 << 20))
    return buf.getvalue()


def tar_gz_bomb() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("cat/1.png")
        info.size = ZEROS
        tf.addfile(info, io.BytesIO(bytes(ZEROS)))
    return buf.getvalue()


@pytest.mark.parametrize("make", [zip_bomb, tar_gz_bomb])
def test_a_bomb_is_refused_as_one(make):
    with pytest.raises(DatasetImportError) as err:
        read_archive(make())
    assert any("zip bomb" in p for p in err.value.problems), err.value.problems


def test_the_api_side_check_reads_only_the_zip_directory():
    bomb = zip_bomb()
    assert any("member 'cat/1.png' expands" in p for p in declared_problems(bomb))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/1.png", b"\x89PNG" + bytes(1000))
    assert declared_problems(buf.getvalue()) == []
    assert declared_problems(b"not a zip") == []
