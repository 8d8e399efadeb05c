"""One address gives one answer: a serving role of two gunicorn processes that poll the registry
only every 30 s answers every request as the database has it now. A model that became READY is
served by a process that has not polled since (it loads it first); a deleted model answers 404
on every prediction route of every process at once, cached predictions included.

The slow poll makes the race deterministic: every request here reaches a process whose own view
of the registry is older than the change. Requests go on fresh connections, so both processes
behind the address answer some of them."""

from __future__ import annotations

import contextlib
import signal

import numpy as np
import pytest
from sqlalchemy import select

from dao import model_queries
from dao.db import session_scope
from dao.tables import ServingProcess
from tests.serving.harness import Serving, engine_probabilities, fresh_subjects
from tests.serving.onnx_builders import broken_model

pytestmark = pytest.mark.slow
SLOW_POLL = {"TRAINYARD_SERVE_WORKERS": "2", "TRAINYARD_SERVE_POLL_SECONDS": "30",
             "TRAINYARD_SERVE_HEARTBEAT_SECONDS": "30", "TRAINYARD_SERVE_CACHE_ENTRIES": "64"}
ROUNDS = 6  # of every route, each on a fresh connection
TOL = 1e-4


@pytest.fixture(scope="module")
def reference(served):
    stack, _, task_id = served
    ds = fresh_subjects(n=4, seed=21).subset([0, 1])  # two subjects keep the JSON bodies small
    return ds, engine_probabilities(stack, task_id, ds)


def _process_names() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(ServingProcess.name)))


@contextlib.contextmanager
def slow_role(stack, label: str):
    """A second serving role beside the shared one: two processes polling every 30 s, with a
    prediction cache; yielded once both have read the registry (their first heartbeat follows
    their first poll). Stopped afterwards, and its heartbeat rows removed, so the shared role
    stays the only one the other tests see."""
    before = _process_names()
    role = Serving(stack, label=label)
    role.env.update(SLOW_POLL)
    role.start()
    try:
        role.wait(lambda: len(_process_names() - before) == 2, "never polled in both processes")
        yield role
    finally:
        stack.signal(label, signal.SIGTERM)
        with session_scope() as session:
            for name in _process_names() - before:
                model_queries.forget_process(session, name)


ROUTES = ("kserve", "mms", "fractal", "connectome")


def predict(role: Serving, route: str, name: str, conn: np.ndarray):
    """(status, class probabilities) of one prediction through ``route``; the body's text in
    place of the probabilities when the status is not 200."""
    if route == "kserve":
        body = {"inputs": [{"name": "conn", "shape": list(conn.shape), "datatype": "FP32",
                            "data": conn.reshape(-1).tolist()}]}
        r = role.post(f"/v2/models/{name}/infer", json=body)
        got = lambda j: np.array(j["outputs"][0]["data"]).reshape(j["outputs"][0]["shape"])  # noqa: E731
    elif route == "mms":
        r = role.post(f"/predictions/{name}", json={"data": conn.tolist()})
        got = lambda j: np.array([list(p.values()) for p in j])  # noqa: E731
    elif route == "fractal":
        r = role.post(f"/api/v1/models/{name}/prediction", json={"values": conn.tolist()})
        got = lambda j: np.array(j["probabilities"])  # noqa: E731
    else:
        r = role.post(f"/api/v0/models/{name}/predict", json={"matrices": conn.tolist()})
        got = lambda j: np.array([list(p["probabilities"].values()) for p in j["predictions"]])  # noqa: E731
    return r.status_code, (got(r.json()) if r.status_code == 200 else r.text)


def _copy(stack, name: str) -> None:
    r = stack.post(f"/models?url=onnx:sgn&model_name={name}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("management", ["fractal", "mms"])
def test_a_deleted_model_answers_404_everywhere_at_once(served, reference, management):
    stack, _, _ = served
    ds, want = reference
    name = f"doomed-{management}"
    _copy(stack, name)
    with slow_role(stack, f"serve-doomed-{management}") as role:
        for route in ROUTES:
            for _ in range(2):  # the second answer may come from the prediction cache
                status, got = predict(role, route, name, ds.conn)
                assert status == 200, (route, got)
                np.testing.assert_allclose(got, want, atol=TOL)
        gone = stack.delete(f"/api/v1/models/{name}" if management == "fractal" else f"/models/{name}")
        assert gone.status_code == 200, gone.text
        for _ in range(ROUNDS):
            for route in ROUTES:
                status, text = predict(role, route, name, ds.conn)
                assert status == 404, (route, status, text)
            assert role.get(f"/v2/models/{name}/ready").status_code == 404
            assert role.get(f"/v2/models/{name}").status_code == 404


def _exporting(name: str) -> int:
    """A registry row as a deploy leaves it (EXPORTING), with sgn's contract; its id."""
    with session_scope() as session:
        sgn = model_queries.get(session, "sgn")
        row = model_queries.register(session, model_queries.Registration(
            name=name, version=None, source_kind="task", source_task_id=sgn.source_task_id,
            contract=sgn.contract, project_id=sgn.project_id))
        return row.id


def _exported(model_id: int, onnx: bytes | None = None) -> None:
    """What the export worker does last: store the file and mark the row READY."""
    with session_scope() as session:
        row = model_queries.get_by_id(session, model_id)
        sgn = model_queries.get(session, "sgn")
        blob = onnx if onnx is not None else model_queries.onnx_bytes(session, sgn.id)
        model_queries.store_onnx(session, row, blob, row.contract, verification=None)


@contextlib.contextmanager
def _deleted_after(stack, name: str):
    """The shared serving process would otherwise keep trying to load it."""
    try:
        yield
    finally:
        stack.delete(f"/models/{name}")


def test_a_model_ready_in_the_database_is_served_by_every_process_before_it_polls(served, reference):
    stack, _, _ = served
    ds, want = reference
    model_id = _exporting("late")
    with slow_role(stack, "serve-late") as role, _deleted_after(stack, "late"):
        for _ in range(ROUNDS):
            r = role.get("/v2/models/late/ready")
            assert r.status_code == 503 and r.json() == {"name": "late", "ready": False}, r.text
        _exported(model_id)
        for _ in range(ROUNDS):
            r = role.get("/v2/models/late/ready")
            assert r.status_code == 200, r.text
            for route in ROUTES:
                status, got = predict(role, route, "late", ds.conn)
                assert status == 200, (route, got)
                np.testing.assert_allclose(got, want, atol=TOL)
            assert role.get("/v2/models/late").json()["versions"] == ["1"]


def test_a_ready_model_that_cannot_be_loaded_is_a_clear_503(served, reference):
    stack, _, _ = served
    ds, _ = reference
    model_id = _exporting("unloadable")
    with slow_role(stack, "serve-unloadable") as role, _deleted_after(stack, "unloadable"):
        _exported(model_id, broken_model())
        for _ in range(ROUNDS):
            for route in ROUTES:
                status, text = predict(role, route, "unloadable", ds.conn)
                assert status == 503 and "could not load it" in text, (route, status, text)
            assert role.get("/v2/models/unloadable/ready").status_code == 503
