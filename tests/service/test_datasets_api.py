"""Datasets over HTTP: upload, list, describe, delete, and every way an upload can be wrong."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tests.service.forms import form

pytestmark = pytest.mark.slow


def _npz(n=12, r=6, labels=None) -> bytes:
    rng = np.random.default_rng(0)
    conn = rng.normal(size=(n, r, r)).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, conn=(conn + conn.transpose(0, 2, 1)) / 2,
             labels=np.array(labels if labels is not None else ["NC", "SZ"] * (n // 2)))
    return buf.getvalue()


def _dpabi_zip(labels: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        rows = ["ID,LABEL" if labels else "ID"]
        for i in range(6):
            m = np.eye(4) + 0.1 * i
            zf.writestr(f"ROICorrelation_FisherZ_sub{i:03d}.txt", "\n".join(" ".join(f"{v:.3f}" for v in row) for row in m))
            rows.append(f"sub{i:03d},{'SZ' if i % 2 else 'NC'}" if labels else f"sub{i:03d}")
        zf.writestr("labels.csv", "\n".join(rows))
    return buf.getvalue()


def test_upload_list_show_delete(stack):
    r = stack.post("/api/v0/datasets", files={"file": ("small.npz", _npz())}, data={"name": "small-one"})
    assert r.status_code == 201, r.text
    meta = r.json()["dataset"]
    assert (meta["n_subjects"], meta["n_regions"], meta["class_names"]) == (12, 6, ["NC", "SZ"])
    assert stack.get("/api/v0/datasets/small-one").json()["checksum"] == meta["checksum"]
    assert "small-one" in [d["name"] for d in stack.get("/api/v0/datasets").json()["datasets"]]
    again = stack.post("/api/v0/datasets", files={"file": ("small.npz", _npz())}, data={"name": "small-one"})
    assert again.status_code == 409
    assert requests_delete(stack, "/api/v0/datasets/small-one").status_code == 200
    assert stack.get("/api/v0/datasets/small-one").status_code == 404


def test_dpabi_zip_upload_takes_its_name_from_the_file(stack):
    r = stack.post("/api/v0/datasets", files={"file": ("dpabi_export.zip", _dpabi_zip())})
    assert r.status_code == 201, r.text
    assert r.json()["dataset"]["name"] == "dpabi_export"
    assert r.json()["dataset"]["n_regions"] == 4


@pytest.mark.parametrize(("files", "data", "field"), [
    ({}, {}, "file"),
    ({"file": ("x.npz", _npz(labels=["NC"] * 12))}, {"name": "one-class"}, "file"),
    ({"file": ("x.zip", _dpabi_zip(labels=False))}, {"name": "unlabelled"}, "file"),  # predictions only
    ({"file": ("x.csv", b"a,b\n1,2")}, {"name": "csv"}, "file"),
    ({"file": ("x.npz", b"garbage")}, {"name": "garbage"}, "file"),
    ({"file": ("x.npz", _npz())}, {"name": "../../etc"}, "name"),
])
def test_bad_uploads_name_the_problem(stack, files, data, field):
    r = stack.post("/api/v0/datasets", files=files, data=data)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field


def test_a_dataset_in_use_cannot_be_deleted(stack):
    stack.post("/api/v0/datasets", files={"file": ("busy.npz", _npz(n=40, r=6))}, data={"name": "busy-set"})
    task_id = stack.submit(form(epochs=400, batch_size=1, train_data=["busy-set"], val_data=["busy-set"],
                                test_data=["busy-set"]))
    r = requests_delete(stack, "/api/v0/datasets/busy-set")
    assert r.status_code == 409 and task_id in r.json()["msg"]
    stack.post(f"/api/v0/tasks/{task_id}/stop")
    stack.wait_task(task_id)
    assert requests_delete(stack, "/api/v0/datasets/busy-set").status_code == 200


def test_datasets_that_disagree_are_refused_before_queueing(stack):
    stack.post("/api/v0/datasets", files={"file": ("r6.npz", _npz(r=6))}, data={"name": "regions-6"})
    stack.post("/api/v0/datasets", files={"file": ("r7.npz", _npz(r=7))}, data={"name": "regions-7"})
    r = stack.post("/api/v0/new_task", json=form(train_data=["regions-6"], val_data=["regions-7"],
                                                  enable_test=False))
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert err["field"] == "val_data[0]" and "7" in err["problem"] and "6" in err["problem"]


def requests_delete(stack, path):
    import requests

    return stack.delete(path, timeout=30)
