"""Access on a real stack (issue 11): no token is a 401 on every route; another project's tasks,
datasets and models are 404 and stay as they were; a viewer and a read-only token cannot write;
revoked and expired tokens fail at once; members and tokens are managed through the API."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import requests

from tests.service.forms import form, small_npz
from tests.service.stack import running_stack
from tests.serving.harness import Serving
from tests.serving.onnx_builders import linear_model

pytestmark = pytest.mark.slow
OPEN = {"/ping", "/healthz", "/v2/health/live", "/v2/health/ready"}
DASHBOARD = ("/", "/ui/")  # page shells without data (app/web): they fetch it with the token
BAD_TOKENS = 20  # a client address's bad tokens a minute (per gunicorn worker) before 429


@pytest.fixture(scope="module")
def acc():
    """API and a serving process, no worker (tasks stay QUEUED). Project A holds a task, a dataset
    and a model; bob edits B, carol views A. Tokens and project limits are not cached, so a
    revocation or a limit is seen by every gunicorn worker at once."""
    with running_stack(workers=0, reaper=False, env={"TRAINYARD_TOKEN_CACHE_SECONDS": "0",
                                                     "TRAINYARD_PROJECT_LIMITS_CACHE_SECONDS": "0",
                                                     "TRAINYARD_SERVE_POLL_SECONDS": "0.2",
                                                     "TRAINYARD_AUTH_FAILURES_PER_MINUTE": str(BAD_TOKENS)}) as s:
        serving = Serving(s).start()
        for project in ("A", "B"):
            assert s.post("/api/v0/projects", json={"id": project, "name": f"project {project}"}).status_code == 201
        s.bob = _member_token(s, "B", "bob", "editor")
        s.carol = _member_token(s, "A", "carol", "viewer")
        s.task_a = s.submit(form(proj_id="A"))
        r = s.post("/api/v0/datasets", files={"file": ("a.npz", small_npz())}, data={"name": "data-a", "proj_id": "A"})
        assert r.status_code == 201, r.text
        r = s.put("/api/v1/models/model-a", files={"path": ("m.onnx", linear_model())}, data={"proj_id": "A"})
        assert r.status_code == 201, r.text
        serving.wait_model("model-a")
        s.serving = serving
        yield s


def _member_token(s, project: str, user: str, role: str, **token) -> dict:
    r = s.post(f"/api/v0/projects/{project}/members", json={"user": user, "role": role})
    assert r.status_code == 201, r.text
    r = s.post("/api/v0/tokens", json={"user": user, "name": f"{user}'s", **token})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['secret']}"}



def _routes(app) -> list[tuple[str, str]]:
    """Every (method, path) of a Flask app, its arguments filled with placeholders."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", lambda m: "1" if "int:" in m.group(0) else f"x-{m.group(1)}", rule.rule)
        out += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return out


def _api_and_serving_routes() -> tuple[list, list]:
    from app import create_app
    from serving.app import create_serving_app
    from serving.registry import Registry

    class Idle(Registry):  # the map only: no thread following the registry
        def start(self):  # noqa: ANN202
            return self

    return _routes(create_app()), _routes(create_serving_app(Idle()))


def test_every_route_but_health_needs_a_token(acc):
    api, serving = _api_and_serving_routes()
    assert len(api) > 40 and len(serving) > 10
    for base, routes in ((acc.url, api), (acc.serving.url, serving)):
        for i, (method, path) in enumerate(routes):
            for headers in ({}, {"Authorization": "Bearer ty_not-a-token"}, {"Authorization": "Basic eDp5"}):
                client = {"X-Forwarded-For": f"198.51.{i // 250}.{i % 250}"}  # not throttled: one address each
                r = requests.request(method, base + path, headers={**headers, **client}, timeout=30)
                if path in OPEN:
                    assert r.status_code in (200, 503), (method, path, r.text)
                    continue
                if path == DASHBOARD[0] or path.startswith(DASHBOARD[1]):
                    assert r.status_code in (200, 302, 404), (method, path, r.text[:200])
                    assert "application/json" not in r.headers.get("Content-Type", "") or r.status_code == 404
                    continue
                assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
                assert r.headers["WWW-Authenticate"].startswith("Bearer"), (method, path)
    assert requests.get(acc.url + "/metrics", timeout=30).status_code == 401
    assert acc.get("/metrics").status_code == 200


def test_whoami_and_projects(acc):
    me = acc.get("/api/v0/whoami", headers=acc.carol).json()
    assert me["user"]["name"] == "carol" and me["user"]["is_admin"] is False
    assert me["token"]["read_only"] is False and me["token"]["projects"] is None
    assert set(me["token"]) == {"id", "name", "read_only", "projects", "expires_at"}
    assert me["projects"] == [{"id": "A", "name": "project A", "role": "viewer"}]
    assert acc.get("/api/v0/projects", headers=acc.bob).json() == {"projects": [{"id": "B", "name": "project B",
                                                                                 "role": "editor"}]}
    admin = acc.get("/api/v0/whoami").json()
    assert admin["user"]["is_admin"] is True and {"A", "B"} <= {p["id"] for p in admin["projects"]}


def _state(acc) -> tuple:
    task = acc.task(acc.task_a)
    model = acc.get("/api/v1/models/model-a").json()["model"]
    return task["status"], acc.get("/api/v0/datasets/data-a").status_code, model["version"], model["description"]


def test_another_projects_objects_are_404_and_unchanged(acc):
    before = _state(acc)
    bob, t = acc.bob, acc.task_a
    for method, path in [("GET", f"/api/v0/tasks/{t}"), ("GET", f"/api/v0/tasks/{t}?view=full"),
                         ("GET", f"/api/v0/tasks/{t}?wait=1"), ("GET", f"/api/v0/tasks/{t}/epochs"),
                         ("GET", f"/api/v0/tasks/{t}/logs"), ("GET", f"/api/v0/tasks/{t}/checkpoints"),
                         ("GET", f"/api/v0/tasks/{t}/model"), ("POST", f"/api/v0/tasks/{t}/stop"),
                         ("POST", f"/api/v0/tasks/{t}/deploy"), ("GET", "/api/v0/datasets/data-a"),
                         ("DELETE", "/api/v0/datasets/data-a"), ("GET", "/models/model-a"),
                         ("PUT", "/models/model-a?min_worker=2"), ("DELETE", "/models/model-a"),
                         ("GET", "/api/v1/models/model-a"), ("DELETE", "/api/v1/models/model-a"),
                         ("GET", "/api/v0/projects/A/members")]:
        r = acc.request(method, path, headers=bob)
        assert r.status_code == 404, (method, path, r.text)
    r = acc.post("/stop", json={"task_id": t}, headers=bob)
    assert r.status_code == 404 and r.json()["state_desc"] == "TASK_NOT_EXIST"
    for path, body in [("/v2/models/model-a/infer", {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                                                  "data": [1, 2, 3, 4]}]}),
                       ("/predictions/model-a", [[1, 2, 3, 4]])]:
        assert acc.serving.post(path, json=body, headers=bob).status_code == 404, path
    assert acc.serving.get("/v2/models/model-a", headers=bob).status_code == 404
    assert acc.serving.post("/predictions/model-a", json=[[1, 2, 3, 4]]).status_code == 200  # the admin
    # listings leave A out; a submit into A, or naming A's data or task, reads as not existing
    assert t not in [x["task_id"] for x in acc.get("/api/v0/tasks", headers=bob).json()["tasks"]]
    assert "data-a" not in [d["name"] for d in acc.get("/api/v0/datasets", headers=bob).json()["datasets"]]
    assert "model-a" not in acc.get("/api/v1/models", headers=bob).json()["model_list"]
    assert "model-a" not in [m["modelName"] for m in acc.get("/models", headers=bob).json()["models"]]
    r = acc.post("/api/v0/new_task", json=form(proj_id="A"), headers=bob)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "proj_id", r.text
    r = acc.post("/api/v0/new_task", json=form(proj_id="NEW-by-bob"), headers=bob)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "proj_id", r.text
    r = acc.post("/api/v0/new_task", json=form(proj_id="B", train_data=["data-a"]), headers=bob)
    assert r.status_code == 422 and {"field": "train_data[0]", "problem": "dataset 'data-a' does not exist"} \
        in r.json()["errors"], r.text
    r = acc.post("/api/v0/new_task", json=form(proj_id="B", task_type="dl_ft", trained_task_id=t), headers=bob)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "param_set.trained_task_id", r.text
    assert _state(acc) == before


def test_a_viewer_reads_but_cannot_submit_stop_upload_deploy_or_delete(acc):
    before = _state(acc)
    carol, t = acc.carol, acc.task_a
    assert acc.get(f"/api/v0/tasks/{t}", headers=carol).status_code == 200
    assert acc.get("/api/v0/datasets/data-a", headers=carol).status_code == 200
    assert acc.serving.post("/predictions/model-a", json=[[1, 2, 3, 4]], headers=carol).status_code == 200
    for method, path, kw in [
            ("POST", "/api/v0/new_task", {"json": form(proj_id="A")}),
            ("POST", f"/api/v0/tasks/{t}/stop", {}), ("POST", "/stop", {"json": {"task_id": t}}),
            ("POST", f"/api/v0/tasks/{t}/deploy", {}),
            ("POST", "/api/v0/datasets", {"files": {"file": ("c.npz", small_npz())}, "data": {"name": "by-carol",
                                                                                          "proj_id": "A"}}),
            ("PUT", "/api/v1/models/model-a", {"files": {"path": ("m.onnx", linear_model())}}),
            ("DELETE", "/api/v0/datasets/data-a", {}), ("DELETE", "/api/v1/models/model-a", {}),
            ("POST", "/api/v0/projects/A/members", {"json": {"user": "mallory", "role": "admin"}})]:
        r = acc.request(method, path, headers=carol, **kw)
        assert r.status_code == 403, (method, path, r.text)
    assert acc.get("/api/v0/datasets/by-carol").status_code == 404
    assert _state(acc) == before


def test_a_read_only_token_cannot_write(acc):
    r = acc.post("/api/v0/tokens", json={"name": "dashboard", "read_only": True})
    ro = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert acc.get(f"/api/v0/tasks/{acc.task_a}", headers=ro).status_code == 200
    assert acc.get("/api/v0/whoami", headers=ro).json()["token"]["read_only"] is True
    before = _state(acc)
    for method, path, kw in [("POST", "/api/v0/new_task", {"json": form(proj_id="A")}),
                             ("POST", f"/api/v0/tasks/{acc.task_a}/stop", {}),
                             ("DELETE", "/api/v0/datasets/data-a", {}),
                             ("POST", "/api/v0/tokens", {"json": {"name": "escalate"}}),
                             ("POST", "/api/v0/projects", {"json": {"id": "C"}})]:
        r = acc.request(method, path, headers=ro, **kw)
        assert r.status_code == 403, (method, path, r.text)
    assert _state(acc) == before


def test_revoked_and_expired_tokens_fail_at_once(acc):
    r = acc.post("/api/v0/tokens", json={"name": "short"})
    token = {"Authorization": f"Bearer {r.json()['secret']}"}
    token_id = r.json()["token"]["id"]
    assert r.json()["secret"] not in acc.get("/api/v0/tokens").text  # shown once, never stored
    for _ in range(4):  # reach both gunicorn workers
        assert acc.get("/api/v0/whoami", headers=token).status_code == 200
    assert acc.delete(f"/api/v0/tokens/{token_id}").status_code == 200
    for _ in range(4):
        assert acc.get("/api/v0/whoami", headers=token).status_code == 401
    listed = {t["id"]: t for t in acc.get("/api/v0/tokens").json()["tokens"]}
    assert listed[token_id]["revoked_at"] and listed[token_id]["last_used_at"]
    asked = dt.datetime.now(dt.timezone.utc)
    r = acc.post("/api/v0/tokens", json={"name": "brief", "expires_in_seconds": 3600})
    brief = {"Authorization": f"Bearer {r.json()['secret']}"}
    expires_at = dt.datetime.fromisoformat(r.json()["token"]["expires_at"])
    assert asked + dt.timedelta(seconds=3590) < expires_at < asked + dt.timedelta(seconds=3660), expires_at
    assert acc.get("/api/v0/whoami", headers=brief).status_code == 200
    _expire_now(r.json()["token"]["id"])  # an hour passes, as far as the token is concerned
    for _ in range(4):
        assert acc.get("/api/v0/whoami", headers=brief).status_code == 401


def _expire_now(token_id: int) -> None:
    """Move the token's expiry a second into the past (this process points at the stack's
    database): the API must refuse it from its next request on, without waiting out a clock."""
    from sqlalchemy import update

    from dao.db import session_scope
    from dao.tables import ApiToken, utcnow

    with session_scope() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id)
                        .values(expires_at=utcnow() - dt.timedelta(seconds=1)))


def test_a_project_admin_manages_members_and_their_tokens(acc):
    dave = _member_token(acc, "B", "dave", "admin")
    r = acc.post("/api/v0/projects/B/members", json={"user": "erin", "role": "viewer"}, headers=dave)
    assert r.status_code == 201, r.text
    r = acc.post("/api/v0/tokens", json={"user": "erin", "projects": ["B"]}, headers=dave)
    assert r.status_code == 201, r.text
    erin = {"Authorization": f"Bearer {r.json()['secret']}"}
    assert [p["role"] for p in acc.get("/api/v0/whoami", headers=erin).json()["projects"]] == ["viewer"]
    r = acc.post("/api/v0/tokens", json={"user": "erin", "projects": ["A"]}, headers=dave)
    assert r.status_code == 403, r.text
    assert acc.post("/api/v0/projects/A/members", json={"user": "erin", "role": "admin"},
                    headers=dave).status_code == 404
    assert acc.delete("/api/v0/projects/B/members/erin", headers=dave).status_code == 200
    assert acc.get("/api/v0/whoami", headers=erin).json()["projects"] == []
    assert acc.get(f"/api/v0/tasks/{acc.task_a}", headers=erin).status_code == 404


def test_an_admin_submit_to_a_new_proj_id_creates_the_project(acc):
    task_id = acc.submit(form(proj_id="PROJ-made-by-submit", proj_name="made by submit"))
    projects = {p["id"]: p for p in acc.get("/api/v0/projects").json()["projects"]}
    assert projects["PROJ-made-by-submit"]["name"] == "made by submit"
    acc.post(f"/api/v0/tasks/{task_id}/stop")


def test_mxservers_train_goes_into_a_project_the_caller_edits(acc):
    body = {"network": "small-cnn", "train_data": ["demo_shapes_28"], "num_epoch": 1, "batch_size": 8}
    r = acc.post("/train", json=body, headers=acc.bob)  # proj_id defaults to "mxserver": not bob's
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "proj_id", r.text
    r = acc.post("/train", json={**body, "proj_id": "A"}, headers=acc.carol)
    assert r.status_code == 403, r.text
    r = acc.post("/train", json={**body, "proj_id": "B"}, headers=acc.bob)
    assert r.status_code == 200 and r.json()["state_desc"] == "OK_TO_RUN", r.text
    assert acc.get(f"/api/v0/tasks/{r.json()['task_id']}", headers=acc.carol).status_code == 404
    assert acc.post("/stop", json={"task_id": r.json()["task_id"]}, headers=acc.bob).status_code == 200


def test_bad_tokens_are_counted_and_throttled_per_client_address(acc):
    guesser = {"X-Forwarded-For": "203.0.113.9"}  # as nginx passes the client's address on
    codes = [acc.get("/api/v0/whoami", headers={**guesser, "Authorization": f"Bearer ty_guess-{i}"}).status_code
             for i in range(2 * BAD_TOKENS + 2)]  # two gunicorn workers, each counting its own
    assert codes[:BAD_TOKENS] == [401] * BAD_TOKENS and 429 in codes, codes
    # The admin's own token from that address is refused too, by a worker that counted 20 bad
    # tokens; which worker answers is the kernel's choice (a loaded machine may hand one worker
    # most connections), so each try first sends one more bad token that whichever worker takes
    # it counts, until the one answering is throttled.
    for i in range(2 * BAD_TOKENS + 10):
        acc.get("/api/v0/whoami", headers={**guesser, "Authorization": f"Bearer ty_again-{i}"})
        r = acc.get("/api/v0/whoami", headers=guesser)
        if r.status_code == 429:
            break
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1, r.text
    assert acc.get("/api/v0/whoami").status_code == 200  # another address is not slowed
    assert requests.get(acc.url + "/api/v0/whoami", timeout=30).status_code == 401  # no token at all
    from tests.service.metrics_scrape import value

    assert value(acc.url + "/metrics", "trainyard_auth_failures_total", reason="throttled") >= 1
    assert value(acc.url + "/metrics", "trainyard_auth_failures_total", reason="invalid") >= BAD_TOKENS
    assert value(acc.url + "/metrics", "trainyard_auth_failures_total", reason="missing") >= 1


def test_the_audit_log_records_each_change(acc):
    r = acc.post("/api/v0/datasets", files={"file": ("g.npz", small_npz())}, data={"name": "data-gone", "proj_id": "A"})
    assert r.status_code == 201
    assert acc.delete("/api/v0/datasets/data-gone").status_code == 200
    deadline = time.monotonic() + 30  # each API process writes its queued entries every 0.2 s
    while True:
        entries = acc.get("/api/v0/audit", params={"limit": 1000}).json()["entries"]
        seen = {(e["action"], e["proj_id"], e["target"]) for e in entries}
        if ("datasets.delete", "A", "name=data-gone") in seen or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # a poll interval: the verdict waits for the entry, not for a time
    assert ("tasks.new_task", "A", f"task_id={acc.task_a}") in seen
    assert ("datasets.upload", "A", "name=data-gone") in seen and ("datasets.delete", "A", "name=data-gone") in seen
    assert ("fractal_models.upload", "A", "name=model-a") in seen
    assert ("accounts.add_member", "B", "project_id=B") in seen
    actions = {e["action"] for e in entries}
    assert {"accounts.create_project", "accounts.create_token", "accounts.revoke_token",
            "accounts.remove_member", "mxserver.train", "mxserver.stop"} <= actions
    assert all(e["user"] and e["status"] < 400 and e["method"] != "GET" for e in entries)
    assert acc.get("/api/v0/audit", headers=acc.carol).status_code == 403  # a viewer
    dave = _member_token(acc, "B", "dave2", "admin")
    theirs = acc.get("/api/v0/audit", headers=dave).json()["entries"]
    assert theirs and {e["proj_id"] for e in theirs} == {"B"}


def test_a_projects_limit_holds_its_work_back(acc):
    assert acc.patch("/api/v0/projects/B", json={"max_running": 1}, headers=acc.bob).status_code == 403
    r = acc.patch("/api/v0/projects/B", json={"max_running": 1})
    assert r.status_code == 200 and r.json()["limits"] == {"max_running": 1, "max_gpus": None}, r.text
    # Both gunicorn workers see the limit at once: the stack caches no project limits.
    first = acc.submit(form(proj_id="B"))
    r = acc.post("/api/v0/new_task", json=form(proj_id="B"), headers=acc.bob)
    assert r.status_code == 201 and "waiting for project 'B'" in r.json()["msg"], r.text
    second = r.json()["task_form"]["task_id"]
    assert "1 of its 1 tasks" in acc.task(second)["waiting_reason"]
    usage = acc.get("/api/v0/projects/B").json()["usage"]
    assert (usage["running"], usage["gpus"]) == (1, 0), usage
    for task_id in (first, second):
        acc.post(f"/api/v0/tasks/{task_id}/stop")
