"""Workers load datasets and checkpoints in place from a local file (``dao.blobs.local_file``):
every loader gives from a file or a path exactly what it gives from the bytes, with the same
errors; a worker reads a stored dataset through the store on file:// and s3:// (moto), or from a
row that keeps its bytes, and leaves no temporary file behind; a stored checkpoint loads from its
local file too."""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest
import torch
from sqlalchemy import insert

from dao import artifact_queries, dataset_queries, task_queries
from dao.db import session_scope
from dao.errors import DatasetNotFound
from dao.tables import Dataset
from models.datasets.types import ConnectomeDataset, DatasetImportError
from models.mxnet_backend.detection_data import DetectionDataset
from models.mxnet_backend.images import ImageDataset
from models.weights import FORMAT, BadWeights, load_checkpoint, save_checkpoint
from tasks.stored_datasets import read_dataset
from tests.blobstore.test_local_file import scratch  # noqa: F401 - fixture: where temporary files go
from tests.tasks.test_artifact_store import moto, store  # noqa: F401 - fixtures: the store on file:// and s3:// (moto)
from tests.service.forms import form


def _connectome(n: int = 12, r: int = 6) -> ConnectomeDataset:
    rng = np.random.default_rng(3)
    return ConnectomeDataset(conn=rng.standard_normal((n, r, r), dtype=np.float32), labels=np.arange(n) % 2,
                             subjects=tuple(f"s{i}" for i in range(n)), class_names=("HC", "SZ"),
                             features=rng.standard_normal((n, r, 2), dtype=np.float32), feature_names=("a", "b"),
                             groups=tuple(f"site{i % 3}" for i in range(n)))


def _same(a: ConnectomeDataset, b: ConnectomeDataset) -> None:
    assert np.array_equal(a.conn, b.conn) and np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.features, b.features)
    assert (a.subjects, a.class_names, a.feature_names, a.groups) == (b.subjects, b.class_names, b.feature_names,
                                                                      b.groups)


def _as_file_and_path(blob: bytes, tmp_path):  # noqa: ANN202
    path = tmp_path / f"{uuid.uuid4().hex}.bin"
    path.write_bytes(blob)
    fh = path.open("rb")
    fh.seek(5)  # a loader reads a file from its start wherever it stands
    return fh, path


def test_a_connectome_dataset_loads_the_same_from_bytes_a_file_and_a_path(tmp_path):
    blob = _connectome().to_npz_bytes()
    fh, path = _as_file_and_path(blob, tmp_path)
    with fh:
        _same(ConnectomeDataset.from_npz(fh), ConnectomeDataset.from_npz_bytes(blob))
    _same(ConnectomeDataset.from_npz(path), ConnectomeDataset.from_npz_bytes(blob))


def test_image_and_detection_datasets_load_the_same_from_a_file(tmp_path):
    images = ImageDataset(np.arange(4 * 5 * 5 * 3, dtype=np.uint8).reshape(4, 5, 5, 3), np.array([0, 1, 1, 0]),
                          ("cat", "dog"))
    objects = np.array([[0, 1, .1, .1, .5, .5, 0], [2, 0, .2, .2, .9, .9, 1]], dtype=np.float32)
    boxes = DetectionDataset(images.images, objects, ("cat", "dog"), ("a", "b", "c", "d"),
                             np.full((4, 2), 5), {"train": np.array([0, 2])})
    for kind, ds in ((ImageDataset, images), (DetectionDataset, boxes)):
        fh, _ = _as_file_and_path(ds.to_npz_bytes(), tmp_path)
        with fh:
            got = kind.from_npz(fh)
        assert np.array_equal(got.images, ds.images) and got.class_names == ds.class_names
    assert np.array_equal(got.objects, boxes.objects) and list(got.image_sets) == ["train"]


def test_a_file_that_is_no_stored_dataset_is_refused_as_the_bytes_are(tmp_path):
    for kind in (ImageDataset, DetectionDataset):
        fh, _ = _as_file_and_path(b"not an npz archive at all", tmp_path)
        with fh, pytest.raises(DatasetImportError, match="not a stored"):
            kind.from_npz(fh)


def test_a_checkpoint_loads_the_same_from_bytes_and_a_file_and_is_refused_alike(tmp_path):
    blob = save_checkpoint({"format": FORMAT, "epoch": 3, "w": torch.arange(10.0)})
    fh, _ = _as_file_and_path(blob, tmp_path)
    with fh:
        got = load_checkpoint(fh)
    assert got["epoch"] == load_checkpoint(blob)["epoch"] == 3 and torch.equal(got["w"], torch.arange(10.0))
    bad, _ = _as_file_and_path(save_checkpoint({"format": "other"}), tmp_path)
    with bad, pytest.raises(BadWeights, match="not a trainyard checkpoint"):
        load_checkpoint(bad)


# -- a worker reading a stored dataset --------------------------------------------------------


def test_a_worker_reads_a_stored_dataset_through_the_store_and_leaves_no_copy(store, scratch):
    ds = _connectome()
    with session_scope() as s:
        dataset_queries.insert_dataset(s, "stored", "connectome", {}, ds.to_npz_bytes())
    with session_scope() as s:
        _same(read_dataset(s, "stored"), ds)
        with pytest.raises(DatasetNotFound):
            read_dataset(s, "absent")
    assert list(scratch.iterdir()) == []


def test_a_row_keeping_its_bytes_and_a_rejected_dataset(embedded_db, scratch):
    ds = _connectome()
    blob = ds.to_npz_bytes()
    with session_scope() as s:
        s.execute(insert(Dataset).values(name="old", kind="connectome", meta={}, size=len(blob), checksum="c",
                                         in_row=blob, blob_key=None))
        s.execute(insert(Dataset).values(name="rejected", kind="connectome", status="REJECTED", meta={}, size=0,
                                         checksum="c", in_row=None, blob_key=None))
    with session_scope() as s:
        _same(read_dataset(s, "old"), ds)
        with dataset_queries.local_file(s, "rejected") as fh:  # as get_data's b"": nothing to load
            assert isinstance(fh, io.BytesIO) and fh.read() == b""
        assert dataset_queries.get_data(s, "rejected") == b""


def test_a_stored_checkpoint_loads_from_its_local_file(store, scratch):
    blob = save_checkpoint({"format": FORMAT, "epoch": 4, "w": torch.ones(3)})
    with session_scope() as s:
        task_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue="torch", form=form(), status="RUNNING")
        artifact_queries.save_artifact(s, task_id, artifact_queries.CHECKPOINT, blob, epoch=4)
    with session_scope() as s:
        with artifact_queries.local_file(artifact_queries.get_artifact(s, task_id, artifact_queries.CHECKPOINT)) as fh:
            assert load_checkpoint(fh)["epoch"] == 4
    assert list(scratch.iterdir()) == []


# -- a worker resuming from its checkpoint: the spec holds the local file while the job runs ----


def test_a_resuming_worker_reads_its_checkpoint_from_a_file_open_until_the_job_ends(store, scratch):
    """The spec carries the checkpoint's local file, not its bytes; the file is still open while the
    engine runs (an MXNet pause stores it again as its last checkpoint, read from its start),
    and closed, its temporary copy gone, once the job ends (here by failing)."""
    from dataclasses import replace

    from contracts.settings import get_settings
    from dao.tables import utcnow
    from models.datasets.metadata import describe
    from models.datasets.synthetic import synthetic_aal90
    from tasks.runner import execute
    from tasks.torch_backend import TORCH

    ds = synthetic_aal90(20, seed=0, n_regions=8, n_pairs=2, n_modules=2)
    blob = save_checkpoint({"format": FORMAT, "epoch": 2, "w": torch.ones(3)})
    with session_scope() as s:
        dataset_queries.insert_dataset(s, "tiny", "connectome", describe(ds), ds.to_npz_bytes())
        task_id = task_queries.insert_new_task(
            s, proj_id="p", proj_name="p", task_name="t", task_type="dl_ts", model="SGN", backend="torch",
            queue=get_settings().torch_queue,
            form=form(epochs=3, train_data=["tiny"], val_data=["tiny"], test_data=["tiny"], enable_test=False),
            status="QUEUED", attempt=1, epochs_total=3, epochs_done=0, published_at=utcnow())
        artifact_queries.save_artifact(s, task_id, artifact_queries.CHECKPOINT, blob, epoch=2)
    seen = []

    def engine(spec, hooks, device):  # noqa: ANN001, ANN202
        seen.append(spec.resume_checkpoint)
        assert not isinstance(spec.resume_checkpoint, (bytes, bytearray, memoryview))
        assert not spec.resume_checkpoint.closed and load_checkpoint(spec.resume_checkpoint)["epoch"] == 2
        hooks.on_checkpoint("last", spec.resume_checkpoint, 2)  # read to its end by the load above
        raise RuntimeError("the engine fails here")

    assert execute(task_id, "w1", replace(TORCH, run=engine)) == "failed"
    assert len(seen) == 1 and seen[0].closed
    with session_scope() as s:
        assert artifact_queries.data(artifact_queries.get_artifact(s, task_id, artifact_queries.CHECKPOINT)) == blob
        assert "the engine fails here" in task_queries.get_task(s, task_id).error
    assert [p for p in scratch.iterdir() if p.name.startswith("trainyard-")] == []  # torch's own caches aside
