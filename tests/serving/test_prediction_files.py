"""Prediction inputs never require labels: an uploaded ``.npz`` of ``conn`` (and ``subjects``), or a
DPABI ``.zip`` whose table has no LABEL column, is predicted through every route that reads files;
labels, when sent, play no part in the answer."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.models.dataset_builders import dpabi_members, label_csv, zip_bytes
from tests.serving.harness import engine_probabilities, fresh_subjects

pytestmark = pytest.mark.slow
TOL = 1e-4


@pytest.fixture(scope="module")
def reference(served):
    stack, _, task_id = served
    ds = fresh_subjects(n=4, seed=17)
    return ds, engine_probabilities(stack, task_id, ds)


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_an_npz_without_labels_is_predicted_by_every_route_that_reads_files(served, reference):
    _, serving, _ = served
    ds, want = reference
    upload = {"file": ("subjects.npz", _npz(conn=ds.conn, subjects=np.array(ds.subjects)))}
    r = serving.post("/api/v0/models/sgn/predict", files=upload)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["subject"] for p in preds] == list(ds.subjects)
    np.testing.assert_allclose([[p["probabilities"][c] for c in ds.class_names] for p in preds], want, atol=TOL)
    r = serving.post("/api/v1/models/sgn/prediction", files=upload)
    assert r.status_code == 200, r.text
    assert r.json()["values"] == list(want.argmax(1))
    r = serving.post("/predictions/sgn", data=_npz(conn=ds.conn))  # the raw body, no subject ids
    assert r.status_code == 200, r.text
    np.testing.assert_allclose([[p[c] for c in ds.class_names] for p in r.json()], want, atol=TOL)


def _dpabi(ds, labels=None, n=None) -> bytes:
    """A DPABI zip of ``ds``'s first ``n`` subjects; ``labels=None``: a table without LABEL."""
    ids = list(ds.subjects[:n])
    return zip_bytes(dpabi_members(ds.conn[:n], ids=ids, table=label_csv(labels, features=(), ids=ids)))


def _check_v0(r, ds, want, n=None):
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert [p["subject"] for p in preds] == list(ds.subjects[:n])
    np.testing.assert_allclose([[p["probabilities"][c] for c in ds.class_names] for p in preds], want[:n], atol=TOL)


@pytest.mark.parametrize("labels", [None, ["", "", "", ""]], ids=["no LABEL column", "empty labels"])
def test_a_dpabi_zip_without_labels_is_predicted_by_every_route_that_reads_files(served, reference, labels):
    _, serving, _ = served
    ds, want = reference
    data = _dpabi(ds, labels)
    upload = {"file": ("subjects.zip", data)}
    _check_v0(serving.post("/api/v0/models/sgn/predict", files=upload), ds, want)
    r = serving.post("/api/v1/models/sgn/prediction", files=upload)
    assert r.status_code == 200, r.text
    assert r.json()["values"] == list(want.argmax(1))
    for kw in ({"files": upload}, {"data": data}):  # a form upload, and the raw body
        r = serving.post("/predictions/sgn", **kw)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose([[p[c] for c in ds.class_names] for p in r.json()], want, atol=TOL)


def test_a_dpabi_zip_with_labels_is_predicted_and_its_labels_play_no_part(served, reference):
    _, serving, _ = served
    ds, want = reference
    names = [ds.class_names[k] for k in ds.labels]
    _check_v0(serving.post("/api/v0/models/sgn/predict", files={"file": ("s.zip", _dpabi(ds, names))}), ds, want)
    # One subject, one class: a dataset would need two; a prediction does not.
    one = {"file": ("one.zip", _dpabi(ds, names[:1], n=1))}
    _check_v0(serving.post("/api/v0/models/sgn/predict", files=one), ds, want, n=1)


def test_one_subject_with_its_label_is_predicted(served, reference):
    _, serving, _ = served
    ds, want = reference
    upload = {"file": ("one.npz", _npz(conn=ds.conn[:1], labels=ds.labels[:1]))}
    r = serving.post("/api/v0/models/sgn/predict", files=upload)
    assert r.status_code == 200, r.text
    (pred,) = r.json()["predictions"]
    assert pred["subject"] == "sub-0001"
    np.testing.assert_allclose([pred["probabilities"][c] for c in ds.class_names], want[0], atol=TOL)


@pytest.mark.parametrize("arrays, problem", [
    ({"subjects": np.array(["a"])}, "missing array 'conn'"),
    ({"conn": np.zeros((2, 90, 90)), "subjects": np.array(["a"])},
     "array 'subjects' has 1 entries but 'conn' has 2 subjects"),
    ({"conn": np.zeros((1, 90, 90)), "extra": np.zeros(1)}, "member 'extra.npy' is not one of the arrays"),
    ({"conn": np.zeros((1, 80, 80))}, "90×90"),
])
def test_a_bad_npz_names_its_problem(served, arrays, problem):
    _, serving, _ = served
    r = serving.post("/api/v0/models/sgn/predict", files={"file": ("bad.npz", _npz(**arrays))})
    assert r.status_code == 422 and problem in r.json()["msg"], r.text
    assert r.json()["errors"] == [{"field": "file", "problem": r.json()["msg"]}]
