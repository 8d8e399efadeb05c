"""Prediction inputs never require labels: an uploaded ``.npz`` of ``conn`` (and ``subjects``) is
predicted through every route that reads files; labels, when sent, play no part in the answer."""

from __future__ import annotations

import io

import numpy as np
import pytest

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
