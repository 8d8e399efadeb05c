"""The document against a running stack (PostgreSQL, Redis, a torch worker, the reaper).

1. A tour: real requests that produce each documented status of each API operation (a trained
   task, its model deployed, datasets, MXServer's and TorchServe's and Fractal's routes); every
   answer must carry a documented status and conform to the document.
2. schemathesis, driven by the document the API serves (positive and negative cases, bounded by
   FUZZ_EXAMPLES per operation): no 5xx, status, content type and body as documented, no stack
   trace in any body.
3. Every documented (operation, status) was seen answered by 1 or 2, or is in ELSEWHERE with
   the test that produces it (a database outage, the serving role, MXNet image data).

The inference routes are the serving role's (tests/serving/ covers them against its document).
"""

from __future__ import annotations

import os

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)
from sqlalchemy import update

from app import create_app
from app.openapi import api_document
from dao.db import session_scope
from dao.tables import Task
from tests.service.forms import DEMO, form, small_npz
from tests.service.openapi_conformance import TRACE, Conformance
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow
FUZZ_EXAMPLES = int(os.environ.get("TRAINYARD_FUZZ_EXAMPLES", "5"))
# The sweeps send a bad token to every operation: far more than the throttle lets an address
# send in a minute (its 429 is tested in test_access.py).
LIMITS = {"TRAINYARD_MAX_ONNX_MB": "1", "TRAINYARD_MAX_UPLOAD_MB": "2", "TRAINYARD_AUTH_FAILURES_PER_MINUTE": "100000"}


DOC = api_document(create_app())  # the API role alone: the inference routes are serving's
C = Conformance(DOC)
schema = C.schema
# Statuses this module cannot cause cheaply, each produced by the test named.
ELSEWHERE = {
    503: "a database that drops packets: tests/service/test_hardening.py; a broker outage: test_outages.py",
    403: "a viewer's or a read-only token's write: tests/service/test_access.py",
    429: "an address past its bad tokens a minute: tests/service/test_access.py",
}
ELSEWHERE_PAIRS = {
    ("POST", "/train", 200): "needs a READY image dataset (the MXNet worker): tests/service/test_mxserver.py",
    ("POST", "/eval", 200): "tests/service/test_mxserver.py",
    ("POST", "/test", 200): "tests/service/test_mxserver_clients.py",
    ("PUT", "/models/{name}", 200): "needs a serving process: tests/serving/test_management.py",
    ("PUT", "/models/{name}/{version}", 200): "needs a serving process: tests/serving/test_management.py",
    ("GET", "/api/v0/tasks/{task_id}/checkpoints/{epoch}", 200): "an MXNet task's: tests/service/test_mxserver.py",
    ("GET", "/api/v0/tasks/{task_id}/checkpoints/{epoch}", 302): "an s3:// store: test_presigned_downloads.py",
    ("GET", "/api/v0/tasks/{task_id}/model", 302): "an s3:// store: tests/service/test_presigned_downloads.py",
    ("GET", "/api/v0/tasks/{task_id}/plots/{name}.png", 302): "an s3:// store: test_presigned_downloads.py",
    ("GET", "/api/v0/tasks/{task_id}/model/info", 200): "seen here (torch); MXNet: test_mxserver.py",
    ("GET", "/api/v0/tasks/{task_id}/events", 200): "a stream to the end: tests/service/test_poll.py",
    ("GET", "/api/v0/tasks/{task_id}/events", 204): "a reconnect after the end: tests/service/test_poll.py",
    ("POST", "/models", 422): "a synchronous registration whose export failed its verification (the "
                              "refusal itself: tests/mxnet/test_onnx_export.py); not produced by a test here",
    ("GET", "/ui/static/{filename}", 200): "the pages' scripts in a browser: tests/service/test_dashboard.py",
}


@pytest.fixture(scope="module")
def stack():
    with running_stack(workers=1, env=LIMITS) as s:
        yield s


def call(stack, method: str, path: str, **kw) -> requests.Response:  # noqa: ANN001
    headers = {**(getattr(stack, "headers", {}) or {}), **kw.pop("headers", {})}
    return C.check(requests.request(method, stack.url + path, headers=headers, timeout=60, **kw))



def _onnx() -> bytes:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()


@pytest.fixture(scope="module")
def trained(stack) -> str:  # noqa: ANN001
    task_id = stack.submit(form(epochs=1, batch_size=20))
    assert stack.wait_task(task_id, timeout=300)["status"] == "SUCCEEDED"
    return task_id


def _concrete(template: str, task_id: str) -> str:
    return (template.replace("{task_id}", task_id).replace("{epoch}", "1").replace("{name}", "nothing-here")
            .replace("{version}", "9").replace("{project_id}", "nothing-here").replace("{user}", "nobody")
            .replace("{token_id}", "999999"))


def test_every_operation_refuses_a_nul_character(stack, trained):  # noqa: ANN001
    for path, item in DOC["paths"].items():
        for method in item:
            r = call(stack, method.upper(), _concrete(path, trained), params={"q": "a\x00b"})
            assert r.status_code == 400, (method, path, r.text)


CREATES = {("put", "/api/v1/models/{name}")}  # 404 there only for a name of a hidden project (test_models)
VALID_BODIES = {"/api/v1/models/{name}": {"model_description": "a model"},
                "/api/v0/projects/{project_id}/members": {"user": "ann", "role": "viewer"}}


def test_every_operation_but_the_health_ones_needs_a_token(stack, trained):  # noqa: ANN001
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            r = call(stack, method.upper(), _concrete(path, trained), headers={"Authorization": "Bearer nope"})
            if op.get("security") == []:
                assert r.status_code != 401, (method, path)
            else:
                assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)


def test_accounts(stack):  # noqa: ANN001
    me = call(stack, "GET", "/api/v0/whoami").json()
    assert me["user"]["is_admin"]
    assert call(stack, "GET", "/api/v0/projects").status_code == 200
    assert call(stack, "POST", "/api/v0/projects", json={"id": "tour", "name": "Tour"}).status_code == 201
    assert call(stack, "POST", "/api/v0/projects", json={"id": "tour"}).status_code == 409
    assert call(stack, "POST", "/api/v0/projects", json={"id": "no way!"}).status_code == 422
    assert call(stack, "POST", "/api/v0/projects/tour/members", json={"user": "ann", "role": "viewer"}).status_code == 201
    assert call(stack, "POST", "/api/v0/projects/tour/members", json={"user": "ann", "role": "boss"}).status_code == 422
    assert call(stack, "GET", "/api/v0/projects/tour/members").json()["members"]
    assert call(stack, "DELETE", "/api/v0/projects/tour/members/ann").status_code == 200
    assert call(stack, "DELETE", "/api/v0/projects/tour/members/ann").status_code == 404
    made = call(stack, "POST", "/api/v0/tokens", json={"name": "tour", "read_only": True})
    assert made.status_code == 201
    assert call(stack, "POST", "/api/v0/tokens", json={"name": ""}).status_code == 422
    assert call(stack, "GET", "/api/v0/tokens").json()["tokens"]
    token_id = made.json()["token"]["id"]
    assert call(stack, "DELETE", f"/api/v0/tokens/{token_id}").status_code == 200
    assert call(stack, "DELETE", "/api/v0/tokens/999999").status_code == 404
    limits = call(stack, "PATCH", "/api/v0/projects/tour", json={"max_running": 2})
    assert limits.status_code == 200 and limits.json()["max_running"] == 2
    assert call(stack, "GET", "/api/v0/projects/tour").json()["limits"]["max_running"] == 2
    assert call(stack, "GET", "/api/v0/audit").json()["entries"]
    assert call(stack, "GET", "/api/v0/queues").status_code == 200
    for page in ("/", "/ui/"):
        assert call(stack, "GET", page, allow_redirects=False).status_code == 302


def test_every_path_parameter_that_names_nothing_is_404(stack, trained):  # noqa: ANN001
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            if "404" in op["responses"] and "{" in path and (method, path) not in CREATES:
                concrete = _concrete(path, "TASKNOTHING")
                kw = {"json": VALID_BODIES.get(path, {})} if method in ("post", "patch") else {}
                r = call(stack, method.upper(), concrete, **kw)
                assert r.status_code == 404, (method, path, r.status_code, r.text)


# NEURO-LEARN's and MXServer's routes read a JSON body whatever its Content-Type says (their
# clients label it otherwise); only a body that is not JSON is refused there.
READ_WHATEVER_THE_TYPE = ("/api/v0/new", "/train", "/eval", "/test", "/stop")


def test_every_json_body_is_checked(stack):  # noqa: ANN001
    """Unparseable (400), too large (413), not JSON (415), a NUL in a string (422)."""
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content or "415" not in op["responses"]:
                continue
            url = _concrete(path, "TASKNOTHING")  # each of these reads its body before any look-up
            assert call(stack, method.upper(), url, data="{", headers={"Content-Type": "application/json"}
                        ).status_code == 400, path
            assert call(stack, method.upper(), url, data="[" * 10 + "1" * 300_000 + "]" * 10,
                        headers={"Content-Type": "application/json"}).status_code == 413, path
            if not path.startswith(READ_WHATEVER_THE_TYPE):
                assert call(stack, method.upper(), url, data="{}", headers={"Content-Type": "text/plain"}
                            ).status_code == 415, path
            else:
                assert call(stack, method.upper(), url, data="x", headers={"Content-Type": "text/plain"}
                            ).status_code == 415, path
            assert call(stack, method.upper(), url, json={"task_id": "a\x00"}).status_code == 422, path


def test_tasks(stack, trained):  # noqa: ANN001
    base = f"/api/v0/tasks/{trained}"
    light = call(stack, "GET", base)
    assert light.status_code == 200
    assert call(stack, "GET", base, headers={"If-None-Match": light.headers["ETag"]}).status_code == 304
    assert call(stack, "GET", base, params={"view": "full"}).json()["result"]
    assert call(stack, "GET", base, params={"view": "bad"}).status_code == 400
    assert call(stack, "GET", base + "/epochs").json()["epochs"]
    follow = call(stack, "GET", base + "/logs", params={"follow": 1})  # until the end
    assert follow.status_code == 200 and "event: end" in follow.text
    page = call(stack, "GET", base + "/logs").json()
    assert page["lines"]
    assert call(stack, "GET", base + "/logs", params={"follow": 1, "cursor": page["next_cursor"]}).status_code == 204
    assert call(stack, "GET", base + "/model").content
    assert call(stack, "GET", base + "/model", params={"kind": "best_weights"}).status_code in (200, 404)
    assert call(stack, "GET", base + "/model", params={"kind": "x"}).status_code == 400
    assert call(stack, "GET", base + "/model/info").json()["sha256"]
    assert call(stack, "GET", base + "/plots/curves.png").content.startswith(b"\x89PNG")
    assert call(stack, "GET", base + "/checkpoints").json()["checkpoints"] == []
    assert call(stack, "POST", base + "/stop").status_code == 409
    assert call(stack, "GET", "/api/v0/tasks", params={"status": "SUCCEEDED", "limit": 5}).json()["tasks"]
    assert call(stack, "GET", "/api/v0/tasks", params={"status": "NOPE"}).status_code == 400
    assert call(stack, "POST", "/api/v0/new_task", json=form(epochs=0)).status_code == 422
    queued = call(stack, "POST", "/api/v0/new_sgn_task", json=form(epochs=50, batch_size=20))
    assert queued.status_code == 201
    stopped = queued.json()["task_form"]["task_id"]
    stack.unfinished.add(stopped)
    assert call(stack, "POST", f"/api/v0/tasks/{stopped}/stop").status_code == 200
    compared = call(stack, "GET", "/api/v0/compare", params={"ids": f"{trained},{stopped}"})
    assert compared.json()["pairs"][0]["reason"] == "no_predictions"
    assert call(stack, "GET", "/api/v0/compare", params={"ids": trained}).status_code == 400
    assert call(stack, "GET", "/api/v0/compare", params={"ids": f"{trained},TASKNOTHING"}).status_code == 404
    for path in ("/ping", "/healthz", "/metrics", "/openapi.json", "/docs", "/api/v0/models", "/api/v0/gpus",
                 "/gpu"):
        assert call(stack, "GET", path).status_code == 200, path


def test_sweeps(stack, trained):  # noqa: ANN001
    with session_scope() as session:
        session.execute(update(Task).where(Task.id == trained).values(sweep_id="SWEEP-tour"))
        for n, cv_type in enumerate(("", "kfold")):  # a sweep mixing the two kinds chooses nothing
            session.add(Task(id=f"TASKTOURCV{n}", proj_id="p", proj_name="p", task_name="cv", task_type="dl_ts",
                             model="GNN", backend="torch", queue="torch", form={"cv_type": cv_type},
                             status="FAILED", sweep_id="SWEEP-tour-mixed"))
    chosen = call(stack, "GET", "/api/v0/sweeps/SWEEP-tour").json()["selection"]
    assert chosen["chosen_task_id"] == trained and chosen["chosen_test"]["test_accuracy"]["low"] is not None
    assert call(stack, "GET", "/api/v0/sweeps/SWEEP-tour", params={"metric": "test_accuracy"}).status_code == 400
    assert call(stack, "GET", "/api/v0/sweeps/SWEEP-tour-mixed").status_code == 409
    assert call(stack, "GET", "/api/v0/tasks", params={"sweep_id": "SWEEP-tour", "sort": "-test_accuracy"}
                ).json()["selection_warning"]


def test_datasets(stack):  # noqa: ANN001
    assert call(stack, "GET", f"/api/v0/datasets/{DEMO}").status_code == 200
    assert call(stack, "GET", "/api/v0/datasets").status_code == 200
    files = {"file": ("tour.npz", small_npz(n=40))}
    assert call(stack, "POST", "/api/v0/datasets", files=files).status_code == 201
    assert call(stack, "POST", "/api/v0/datasets", files=files).status_code == 409
    assert call(stack, "POST", "/api/v0/datasets", files={"file": ("x.npz", b"garbage")}).status_code == 422
    assert call(stack, "POST", "/api/v0/datasets", files={"file": ("big.npz", b"0" * (3 << 20))}).status_code == 413
    assert call(stack, "POST", "/api/v0/datasets", data={"kind": "image"},
                files={"file": ("imgs.npz", small_npz())}).status_code == 202
    user = call(stack, "POST", "/api/v0/new_task", json=form(train_data=["tour"], val_data=["tour"],
                                                             test_data=["tour"], epochs=500))
    assert user.status_code == 201, user.text
    task_id = user.json()["task_form"]["task_id"]
    stack.unfinished.add(task_id)
    assert call(stack, "DELETE", "/api/v0/datasets/tour").status_code == 409  # a queued task uses it
    call(stack, "POST", f"/api/v0/tasks/{task_id}/stop")
    stack.wait_task(task_id)
    assert call(stack, "DELETE", "/api/v0/datasets/tour").status_code == 200


def test_models(stack, trained):  # noqa: ANN001
    deployed = call(stack, "POST", f"/api/v0/tasks/{trained}/deploy", json={"name": "tour"})
    assert deployed.status_code == 202
    assert call(stack, "POST", f"/api/v0/tasks/{trained}/deploy", json={"name": "tour", "version": "1"}
                ).status_code == 409
    running = stack.submit(form(epochs=500, batch_size=20))
    assert call(stack, "POST", f"/api/v0/tasks/{running}/deploy", json={}).status_code == 409
    assert call(stack, "POST", "/models", params={"url": f"task:{running}"}).status_code == 409
    assert call(stack, "POST", "/stop", json={"task_id": running}).status_code == 200  # MXServer's stop
    assert call(stack, "POST", "/models", params={"url": "task:TASKNOTHING"}).status_code == 404
    with session_scope() as session:
        session.add(Task(id="TASKTOURMX", proj_id="p", proj_name="p", task_name="mx", task_type="dl_ts",
                         model="small-cnn", backend="mxnet", queue="mxnet", form={}, status="SUCCEEDED"))
    # An MXNet task can be deployed (exported by the MXNet worker), but this one has no weights.
    assert call(stack, "POST", "/models", params={"url": "task:TASKTOURMX"}).status_code == 409
    assert call(stack, "POST", f"/api/v0/tasks/{trained}/deploy", json={"batch": 1}).status_code == 422
    sync = call(stack, "POST", "/models", params={"url": f"task:{trained}", "model_name": "tour-sync",
                                                   "synchronous": "true"})
    assert sync.status_code == 200, sync.text
    assert call(stack, "POST", "/models", params={"url": "x.mar"}).status_code == 400
    assert call(stack, "POST", "/models", params={"url": "onnx:tour-sync", "model_name": "bad name!"}
                ).status_code == 400
    assert call(stack, "POST", "/models", params={"url": f"task:{trained}", "model_name": "tour-x",
                                                   "response_timeout": "soon", "synchronous": "true"}
                ).status_code == 400
    assert call(stack, "POST", "/models", params={"url": f"task:{trained}", "model_name": "tour-async"}
                ).status_code == 202
    assert call(stack, "GET", "/models").status_code == 200
    assert call(stack, "GET", "/models", params={"limit": "x"}).status_code == 400
    for path in ("/models/tour", "/models/tour/all", "/api/v1/models", "/api/v1/models/information",
                 "/api/v1/models/tour"):
        assert call(stack, "GET", path).status_code == 200, path
    assert call(stack, "PUT", "/models/tour", params={"min_worker": 2}).status_code == 202
    assert call(stack, "PUT", "/models/tour/1", params={"min_worker": 1}).status_code == 202
    assert call(stack, "PUT", "/models/tour", params={"min_worker": "many"}).status_code == 400
    assert call(stack, "PUT", "/models/tour/1", params={"batch_size": 0}).status_code == 400
    assert call(stack, "PUT", "/models/tour/1/set-default").status_code == 200
    assert call(stack, "POST", "/api/v1/models/tour", json={"model_description": "a tour"}).status_code == 200
    assert call(stack, "POST", "/api/v1/models/tour", json={"model_description": 3}).status_code == 422
    assert call(stack, "PUT", "/api/v1/models/tour-onnx", files={"path": ("m.onnx", _onnx())}).status_code == 201
    assert call(stack, "PUT", "/api/v1/models/tour-onnx-p", files={"path": ("m.onnx", _onnx())},
                data={"proj_id": "tour"}).status_code == 201
    assert call(stack, "POST", "/api/v0/projects", json={"id": "tour2"}).status_code in (201, 409)
    assert call(stack, "POST", "/api/v0/projects/tour2/members", json={"user": "bob", "role": "editor"}
                ).status_code == 201
    bob = call(stack, "POST", "/api/v0/tokens", json={"user": "bob"}).json()["secret"]
    assert call(stack, "PUT", "/api/v1/models/tour-onnx-p", files={"path": ("m.onnx", _onnx())},
                headers={"Authorization": f"Bearer {bob}"}).status_code == 404  # a project bob cannot see
    assert call(stack, "PUT", "/api/v1/models/tour-onnx", files={"path": ("m.onnx", _onnx())}).status_code == 201
    assert call(stack, "PUT", "/api/v1/models/tour-onnx-p", files={"path": ("m.onnx", _onnx())},
                data={"proj_id": "tour"}).status_code == 201
    assert call(stack, "POST", "/api/v0/projects", json={"id": "tour2"}).status_code in (201, 409)
    assert call(stack, "POST", "/api/v0/projects/tour2/members", json={"user": "bob", "role": "editor"}
                ).status_code == 201
    bob = call(stack, "POST", "/api/v0/tokens", json={"user": "bob"}).json()["secret"]
    assert call(stack, "PUT", "/api/v1/models/tour-onnx-p", files={"path": ("m.onnx", _onnx())},
                headers={"Authorization": f"Bearer {bob}"}).status_code == 404  # a project bob cannot see
    assert call(stack, "PUT", "/api/v1/models/tour-big", files={"path": ("m.onnx", b"0" * (3 << 20))}
                ).status_code == 413
    assert call(stack, "PUT", "/api/v1/models/tour-bad", files={"path": ("m.onnx", b"garbage")}).status_code == 422
    assert call(stack, "DELETE", "/models/tour-async").status_code == 200
    assert call(stack, "DELETE", "/models/tour-sync/1").status_code == 200
    assert call(stack, "DELETE", "/api/v1/models/tour-onnx").status_code == 200


def test_mxserver(stack, trained):  # noqa: ANN001
    for path in ("/train", "/eval", "/test"):
        assert call(stack, "POST", path, json={"network": 3}).status_code == 422, path
        assert call(stack, "POST", path, json={"task_id": trained, "task_desc": {}}).status_code == 409, path
    assert call(stack, "POST", "/stop", json={"task_id": "TASKNOTHING"}).status_code == 404
    assert call(stack, "POST", "/stop", json={"task_id": trained}).status_code == 409
    assert call(stack, "POST", "/stop", json={}).status_code == 422


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_fuzz(case, stack):  # noqa: ANN001
    headers = dict(getattr(stack, "headers", {}) or {})
    response = case.call(base_url=stack.url, headers=headers, timeout=30)
    FUZZED.append(response.status_code)
    C.seen.add((case.method.upper(), case.path, response.status_code))
    text = response.content.decode("utf-8", "replace")
    assert not TRACE.search(text), f"a stack trace in the body: {text[:500]}"
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance])


FUZZED: list[int] = []


def test_every_documented_status_is_answered():
    """Run last (file order): what the tour and the fuzz saw, plus ELSEWHERE, covers the document."""
    print(f"\nfuzz: {len(FUZZED)} requests, {sum(c >= 500 for c in FUZZED)} answered 5xx")
    missing = sorted(p for p in C.documented() - C.seen
                     if p[2] not in ELSEWHERE and p not in ELSEWHERE_PAIRS)
    assert not missing, "documented, never answered here nor listed in ELSEWHERE:\n" + \
        "\n".join(f"{m} {p} {s}" for m, p, s in missing)
