"""Isolation from the route table (issue 27, item 2).

The API's and the serving role's URL maps are walked: every route with an argument has a rule
here (ROUTES) and every route without one is classified (PLAIN), or the walk fails naming the
route, so a new route cannot come without its check. A rule fills the arguments with project
A's objects (tests/service/isolation_world.py: each one really there and ready) and says what
each method is:

- Read: A's editor gets 2xx; B's editor gets exactly the answer a made-up id gets (the route's
  own 404 envelope, the same words but the id).
- Write: B's editor gets exactly the made-up id's answer and A is left as it was; where it
  changes nothing, A's editor's request is answered with ``owner`` (not 404: the object is
  there, so B's 404 comes from the project check).
- Open: a page shell or a static file, holding no project's data: the same for every caller.

A route without arguments is a listing (LISTINGS: B sees no row of A, also through the filters
``?parent=``, ``?dataset=``, ``?sweep_id=``, ``?proj_id=``), takes ids in its body (BODIES: A's
object reads as a made-up one), is a metrics page (no label of A for B's token), or says why it
holds no project's data.

Where a case once failed (a model named with a version, a project's PATCH and members, serving's
/metrics), the route was fixed; a new isolation bug may be marked ``xfail(strict=True)`` on its one
case while it is open, so the marker fails once it is fixed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.service.forms import form, small_npz
from tests.service.isolation_world import REGIONS, SWEEP, SWEEP_A, World, two_projects
from tests.serving.onnx_builders import linear_model

pytestmark = pytest.mark.slow

# The argument that names the object (the first of these a rule has); the others qualify it.
OBJECT_ARGS = ("task_id", "name", "project_id", "token_id", "sweep_id")
MADE_UP = {"task_id": "TASK-MADE-UP-0001", "name": "made-up-name", "project_id": "MADE-UP-PROJECT",
           "token_id": 987654321, "sweep_id": "SWEEP-MADE-UP"}
WALK_FLOOR = 48  # cases the walk checks today (44 (route, method) pairs with ids); fewer: rules were lost

@pytest.fixture(scope="module")
def world():
    with two_projects() as w:
        yield w


# -- the rules for routes with arguments ----------------------------------------------------
Args = Callable[[World], dict]
T: Args = lambda w: {"task_id": w.task}  # noqa: E731
D: Args = lambda w: {"name": w.dataset}  # noqa: E731
M: Args = lambda w: {"name": w.model}  # noqa: E731
MV: Args = lambda w: {"name": w.model, "version": w.version}  # noqa: E731
P: Args = lambda w: {"project_id": "A"}  # noqa: E731


@dataclass(frozen=True)
class Read:
    """The owner gets 2xx; a foreign token the made-up id's answer (404)."""

    args: Args
    query: dict = field(default_factory=dict)
    json: Callable[[World], Any] | None = None
    xfail: str | None = None


@dataclass(frozen=True)
class Write:
    """A foreign token gets the made-up id's answer (404) and A stays as it was. ``owner``: the
    status A's editor gets for the request (with ``owner_query``/``owner_json`` where given),
    sent only where it changes nothing of A's; ``like``: the method whose made-up answer the
    foreign one must equal, where this one on a made-up id would succeed (an upload creates it)."""

    args: Args
    query: dict = field(default_factory=dict)
    json: Callable[[World], Any] | None = None
    files: Callable[[], dict] | None = None
    owner: int | None = None
    owner_query: dict | None = None
    owner_json: Callable[[World], Any] | None = None
    like: str | None = None
    xfail: str | None = None


@dataclass(frozen=True)
class Open:
    """A page shell or static file without a project's data: every caller, with a token or
    without, gets 200 and the answer a made-up id gets."""

    args: Args
    xfail: str | None = None


def _kserve(w: World) -> dict:
    return {"inputs": [{"name": "conn", "shape": [1, REGIONS, REGIONS], "datatype": "FP32",
                        "data": [x for row in w.matrix for x in row]}]}


MATRIX = {"json": lambda w: {"matrix": w.matrix}}
VALUES = {"json": lambda w: {"values": [w.matrix]}}
ROUTES: dict[str, dict[str, dict[str, Any]]] = {"api": {
    "/api/v0/tasks/<task_id>": {"GET": (Read(T), Read(T, {"view": "full"}))},
    "/api/v0/tasks/<task_id>/epochs": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/events": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/logs": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/model": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/model/info": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/plots/<name>.png": {"GET": (Read(lambda w: {"task_id": w.task, "name": "curves"}),
                                                         Read(lambda w: {"task_id": w.task, "name": "confusion"}))},
    "/api/v0/tasks/<task_id>/checkpoints": {"GET": Read(T)},
    "/api/v0/tasks/<task_id>/checkpoints/<int:epoch>": {
        "GET": Read(lambda w: {"task_id": w.task, "epoch": w.checkpoint_epoch})},
    "/api/v0/tasks/<task_id>/stop": {"POST": Write(T, owner=409)},  # SUCCEEDED: nothing to stop
    "/api/v0/tasks/<task_id>/deploy": {"POST": Write(T, json=lambda w: {"name": "by-bob"})},
    "/api/v0/datasets/<name>": {"GET": Read(D), "DELETE": Write(D, owner=403)},  # an editor deletes nothing
    # A's own sweep; an id both projects use: tests/app/test_sweep_selection.py
    "/api/v0/sweeps/<sweep_id>": {"GET": Read(lambda w: {"sweep_id": SWEEP_A})},
    "/models/<name>": {"GET": Read(M),
                       "PUT": Write(M, {"min_worker": "2"}, owner=202, owner_query={"min_worker": "1"}),
                       "DELETE": Write(M, owner=403)},
    "/models/<name>/<version>": {
        "GET": (Read(MV), Read(lambda w: {"name": w.model, "version": "all"})),
        "PUT": Write(MV, {"min_worker": "2"}, owner=202, owner_query={"min_worker": "1"}),
        "DELETE": Write(MV, owner=403)},
    "/models/<name>/<version>/set-default": {"PUT": Write(MV, owner=200)},
    "/api/v1/models/<name>": {
        "GET": Read(M),
        "POST": Write(M, json=lambda w: {"model_description": "by bob"}, owner=200,
                      owner_json=lambda w: {"model_description": w.description}),
        "PUT": Write(M, files=lambda: {"path": ("m.onnx", linear_model())}, like="GET"),
        "DELETE": Write(M, owner=403)},
    "/api/v0/projects/<project_id>": {
        "GET": Read(P), "PATCH": Write(P, json=lambda w: {"max_running": 1}, owner=403)},
    "/api/v0/projects/<project_id>/members": {
        "GET": Read(P),
        "POST": Write(P, json=lambda w: {"user": "bob", "role": "admin"}, owner=403)},
    "/api/v0/projects/<project_id>/members/<user>": {
        "DELETE": Write(lambda w: {"project_id": "A", "user": "alice"}, owner=403)},
    "/api/v0/tokens/<int:token_id>": {"DELETE": Write(lambda w: {"token_id": w.alice_spare}, owner=200)},
    "/ui/tasks/<task_id>": {"GET": Open(T)},
    "/ui/<any(experiments, new, compare, datasets, models, fleet):page>": {"GET": Open(lambda w: {"page": "models"})},
    "/ui/static/<path:filename>": {"GET": Open(lambda w: {"filename": "css/app.css"})},
}, "serving": {
    "/v2/models/<name>": {"GET": Read(M)},
    "/v2/models/<name>/ready": {"GET": Read(M)},
    "/v2/models/<name>/infer": {"POST": Read(M, json=_kserve)},
    "/v2/models/<name>/versions/<version>": {"GET": Read(MV)},
    "/v2/models/<name>/versions/<version>/ready": {"GET": Read(MV)},
    "/v2/models/<name>/versions/<version>/infer": {"POST": Read(MV, json=_kserve)},
    "/predictions/<name>": {"POST": Read(M, json=lambda w: w.matrix)},
    "/predictions/<name>/<version>": {"POST": Read(MV, json=lambda w: {"data": [w.matrix]})},
    "/api/v1/models/<name>/prediction": {"GET": Read(M, **VALUES), "POST": Read(M, **VALUES)},
    "/api/v0/models/<name>/predict": {"POST": (Read(M, **MATRIX),
                                               Read(M, {"version": "1"}, **MATRIX))},
}}


def _cases(kinds: tuple[type, ...] = (Read, Write, Open)) -> list:
    out = []
    for app, rules in ROUTES.items():
        for rule, methods in rules.items():
            for method, cases in methods.items():
                for i, case in enumerate(cases if isinstance(cases, tuple) else (cases,)):
                    if isinstance(case, kinds):
                        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
                        out.append(pytest.param(app, rule, method, case, marks=marks,
                                                id=f"{app} {method} {rule}" + (f" #{i + 1}" if i else "")))
    return out


# -- requests -------------------------------------------------------------------------------
def _path(rule: str, args: dict) -> str:
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: quote(str(args[m[1]]), safe="/"), rule)


def _object_arg(args: dict) -> str | None:
    return next((a for a in OBJECT_ARGS if a in args), None)


def _made_up(args: dict) -> dict:
    arg = _object_arg(args)
    return args if arg is None else {**args, arg: MADE_UP[arg]}


def _send(w: World, app: str, method: str, rule: str, args: dict, headers: dict | None, *,
          query: dict | None = None, json: Any = None, files: dict | None = None) -> requests.Response:
    base = w.stack.url if app == "api" else w.serving.url
    kw: dict[str, Any] = {"params": query or {}, "headers": headers or {}, "timeout": 60}
    if json is not None:
        kw["json"] = json
    if files is not None:
        kw["files"] = files
    return requests.request(method, base + _path(rule, args), **kw)


def _without(text: str, value: Any) -> str:
    """``text`` with ``value`` (as a whole word) written as <id>."""
    return re.sub(rf"(?<![\w-]){re.escape(str(value))}(?![\w-])", "<id>", text)


def assert_reads_as_made_up(foreign: requests.Response, missing: requests.Response, real: Any, fake: Any,
                            what: str) -> None:
    """A foreign object's answer is the made-up id's: 404, the same envelope and words."""
    assert missing.status_code == 404, (what, "the made-up id", missing.status_code, missing.text[:300])
    assert foreign.status_code == 404, (what, foreign.status_code, foreign.text[:300])
    assert _without(foreign.text, real) == _without(missing.text, fake), (what, foreign.text[:300], missing.text[:300])


def a_as_it_is(w: World) -> dict:
    """A's objects as the service admin reads them: what a foreign write could change."""
    s = w.stack
    keys = ("status", "attempt", "finished_at", "metrics", "sweep_id", "parent_task_id", "proj_id")
    model_keys = ("modelVersion", "isDefault", "status", "minWorkers", "maxWorkers", "batchSize", "maxBatchDelay")
    project = s.get("/api/v0/projects/A").json()
    return {
        "tasks": {t: {k: s.task(t)[k] for k in keys} for t in (w.task, w.child)},
        "task ids": sorted(t["task_id"] for t in s.get("/api/v0/tasks", params={"limit": 500}).json()["tasks"]),
        "weights": s.get(f"/api/v0/tasks/{w.task}/model/info").json()["sha256"],
        "checkpoints": s.get(f"/api/v0/tasks/{w.task}/checkpoints").json(),
        "dataset": s.get(f"/api/v0/datasets/{w.dataset}").json(),
        "datasets": sorted(d["name"] for d in s.get("/api/v0/datasets").json()["datasets"]),
        "versions": [{k: m[k] for k in model_keys} for m in s.get(f"/models/{w.model}/all").json()],
        "description": s.get(f"/api/v1/models/{w.model}").json()["model"]["description"],
        "models": s.get("/api/v1/models").json()["model_list"],
        "project": {k: project[k] for k in ("name", "max_running", "max_gpus", "max_storage_mb")},
        "members": s.get("/api/v0/projects/A/members").json(),
        "tokens": [(t["id"], t["user_id"], t["projects"], t["read_only"], t["revoked_at"])
                   for t in s.get("/api/v0/tokens").json()["tokens"]],
    }


# -- the walk -------------------------------------------------------------------------------
def _url_maps() -> dict[str, list]:
    from app import create_app
    from serving.app import create_serving_app
    from serving.registry import Registry

    class Idle(Registry):  # the map only: no thread following the registry
        def start(self):  # noqa: ANN202
            return self

    return {"api": list(create_app().url_map.iter_rules()),
            "serving": list(create_serving_app(Idle()).url_map.iter_rules())}


def test_every_route_has_an_isolation_rule():
    """Every (route, method) with arguments has a case in ROUTES and every one without is in
    PLAIN; a listing has its LISTINGS check and a body with ids its BODIES check; no table names
    a route that is gone."""
    unruled, stale, templates, pairs, covered = [], [], set(), 0, 0
    for app, rules in _url_maps().items():
        seen = set()
        for rule in rules:
            table = ROUTES[app] if rule.arguments else PLAIN[app]
            if rule.arguments:
                templates.add((app, rule.rule))
            for method in sorted(set(rule.methods) - {"HEAD", "OPTIONS"}):
                seen.add((rule.rule, method))
                pairs += bool(rule.arguments)
                if method in table.get(rule.rule, {}):
                    covered += bool(rule.arguments)
                else:
                    unruled.append(f"{app} {method} {rule.rule}")
        for table in (ROUTES[app], PLAIN[app]):
            stale += [f"{app} {m} {r}" for r, methods in table.items() for m in methods if (r, m) not in seen]
    print(f"isolation walk: {len(templates)} routes with ids, {covered} of {pairs} (route, method) pairs checked "
          f"in {len(_cases())} cases")
    assert not unruled, f"route(s) with no isolation rule: {unruled}"
    assert not stale, f"isolation rule(s) for routes that are gone: {stale}"
    assert len(_cases()) >= WALK_FLOOR
    kinds = {(app, rule, kind) for app, rules in PLAIN.items() for rule, ms in rules.items() for kind in ms.values()}
    assert {(a, r) for a, r, k in kinds if k is LISTING} == {(x.app, x.path) for x in LISTINGS}
    assert {(a, r) for a, r, k in kinds if k is BODY} == {(b.app, b.path) for b in BODIES}


@pytest.mark.parametrize("app, rule, method, case", _cases())
def test_the_walk(world, app, rule, method, case):
    {Open: _check_open, Read: _check_read, Write: _check_write}[type(case)](world, app, rule, method, case)


def _check_open(w: World, app: str, rule: str, method: str, case: Open) -> None:
    args = case.args(w)
    what, arg = f"{app} {method} {_path(rule, args)}", _object_arg(args)
    answers = {who: [_send(w, app, method, rule, a, headers) for a in (args, _made_up(args))]
               for who, headers in (("owner", w.alice), ("foreign", w.bob), ("no token", None))}
    for who, (real, fake) in answers.items():
        assert real.status_code == fake.status_code == 200, (what, who, real.status_code, fake.status_code)
        assert arg is None or _without(real.text, args[arg]) == _without(fake.text, MADE_UP[arg]), (what, who)
    assert answers["owner"][0].text == answers["foreign"][0].text == answers["no token"][0].text, what


def _check_read(w: World, app: str, rule: str, method: str, case: Read) -> None:
    args, json = case.args(w), case.json(w) if case.json else None
    what, arg = f"{app} {method} {_path(rule, args)}", _object_arg(args)
    owner = _send(w, app, method, rule, args, w.alice, query=case.query, json=json)
    assert 200 <= owner.status_code < 300 and owner.content, (what, owner.status_code, owner.text[:300])
    foreign = _send(w, app, method, rule, args, w.bob, query=case.query, json=json)
    missing = _send(w, app, method, rule, _made_up(args), w.bob, query=case.query, json=json)
    assert_reads_as_made_up(foreign, missing, args[arg], MADE_UP[arg], what)


def _check_write(w: World, app: str, rule: str, method: str, case: Write) -> None:
    args, json = case.args(w), case.json(w) if case.json else None
    what, arg = f"{app} {method} {_path(rule, args)}", _object_arg(args)
    before = a_as_it_is(w)
    foreign = _send(w, app, method, rule, args, w.bob, query=case.query, json=json,
                    files=case.files() if case.files else None)
    if case.like:
        missing = _send(w, app, case.like, rule, _made_up(args), w.bob)
    else:
        missing = _send(w, app, method, rule, _made_up(args), w.bob, query=case.query, json=json,
                        files=case.files() if case.files else None)
    assert_reads_as_made_up(foreign, missing, args[arg], MADE_UP[arg], what)
    assert a_as_it_is(w) == before, what


def _owner_cases() -> list:
    return [p for p in _cases((Write,)) if p.values[3].owner is not None]


@pytest.mark.parametrize("app, rule, method, case", [pytest.param(*p.values, id=p.id) for p in _owner_cases()])
def test_the_owner_reaches_what_a_foreign_write_cannot(world, app, rule, method, case):
    """B's 404 on a write comes from the project check: A's editor, sending what changes
    nothing (or may not be done by an editor), is answered about the object. After the walk:
    the token revoked here is one B failed to revoke."""
    w, args = world, case.args(world)
    json = case.owner_json(w) if case.owner_json else (case.json(w) if case.json else None)
    query = case.query if case.owner_query is None else case.owner_query
    r = _send(w, app, method, rule, args, w.alice, query=query, json=json)
    assert r.status_code == case.owner, (app, method, _path(rule, args), r.status_code, r.text[:300])


# -- routes without arguments ---------------------------------------------------------------
LISTING, BODY, METRICS = "a listing: LISTINGS", "names objects in its body: BODIES", "metrics: METRICS_URLS"
PLAIN: dict[str, dict[str, dict[str, str]]] = {"api": {
    "/api/v0/tasks": {"GET": LISTING},
    "/api/v0/compare": {"GET": BODY},
    "/api/v0/datasets": {"GET": LISTING, "POST": BODY},
    "/api/v0/models": {"GET": LISTING},
    "/models": {"GET": LISTING, "POST": BODY},
    "/api/v1/models": {"GET": LISTING},
    "/api/v1/models/information": {"GET": LISTING},
    "/api/v0/queues": {"GET": LISTING},
    "/api/v0/gpus": {"GET": LISTING},
    "/gpu": {"GET": LISTING},
    "/api/v0/projects": {"GET": LISTING, "POST": "the service admin's only: a new project"},
    "/api/v0/whoami": {"GET": LISTING},
    "/api/v0/tokens": {"GET": LISTING, "POST": BODY},
    "/api/v0/audit": {"GET": LISTING},
    "/api/v0/new_task": {"POST": BODY},
    "/api/v0/new_sgn_task": {"POST": BODY},
    "/train": {"POST": BODY},
    "/eval": {"POST": BODY},
    "/test": {"POST": BODY},
    "/stop": {"POST": BODY},
    "/metrics": {"GET": METRICS},
    "/openapi.json": {"GET": "the API's description"},
    "/docs": {"GET": "the API's description"},
    "/ping": {"GET": "health"},
    "/healthz": {"GET": "health"},
    "/": {"GET": "a redirect to the dashboard"},
    "/ui/": {"GET": "a redirect to the dashboard"},
    "/ui/signin": {"GET": "the dashboard's sign-in page"},
}, "serving": {
    "/metrics": {"GET": METRICS},
    "/serving/metrics": {"GET": METRICS},
    "/openapi.json": {"GET": "the serving role's description"},
    "/docs": {"GET": "the serving role's description"},
    "/ping": {"GET": "health"},
    "/v2": {"GET": "server metadata"},
    "/v2/": {"GET": "server metadata"},
    "/v2/health/live": {"GET": "health"},
    "/v2/health/ready": {"GET": "health of every model together"},
}}


# -- bodies naming A's objects --------------------------------------------------------------
@dataclass(frozen=True)
class Body:
    """A POST (or ``method``) naming one of A's objects (``key``: one of World.ids, or "A" for the
    project) in its body or query, sent by B: refused exactly as the same request naming a made-up
    one, and A left as it was."""

    app: str
    path: str
    key: str
    send: Callable[[World, str], dict]  # (world, the object's id) → requests' keyword arguments
    xfail: str | None = None
    method: str = "POST"


def _data(name: str) -> dict:
    return {"train_data": [name], "val_data": [name], "test_data": [name]}


def FINE_TUNE(w: World, task_id: str) -> dict:  # noqa: N802 - a table entry
    return {"json": form(proj_id="B", task_type="dl_ft", trained_task_id=task_id, **_data(w.b_dataset))}


def EVALUATE(w: World, task_id: str) -> dict:  # noqa: N802 - a table entry
    return {"json": {"trained_task_id": task_id, "test_data": ["demo_shapes_28"]}}


BODIES = [
    Body("api", "/api/v0/new_task", "task", FINE_TUNE),
    Body("api", "/api/v0/new_sgn_task", "task", FINE_TUNE),
    Body("api", "/api/v0/new_task", "dataset", lambda w, d: {"json": form(proj_id="B", **_data(d))}),
    Body("api", "/api/v0/new_task", "A", lambda w, p: {"json": form(proj_id=p, **_data(w.b_dataset))}),
    Body("api", "/stop", "task", lambda w, t: {"json": {"task_id": t}}),
    Body("api", "/train", "task", lambda w, t: {"json": {
        "network": "small-cnn", "trained_task_id": t, "train_data": ["demo_shapes_28"], "num_epoch": 1,
        "batch_size": 8, "proj_id": "B"}}),
    Body("api", "/eval", "task", EVALUATE),
    Body("api", "/test", "task", EVALUATE),
    Body("api", "/models", "task", lambda w, t: {"params": {"url": f"task:{t}", "model_name": "by-bob"}}),
    Body("api", "/models", "model", lambda w, m: {"params": {"url": f"onnx:{m}", "model_name": "by-bob"}}),
    Body("api", "/api/v0/datasets", "A", lambda w, p: {
        "files": {"file": ("b.npz", small_npz())}, "data": {"name": "by-bob", "proj_id": p}}),
    Body("api", "/api/v0/tokens", "A", lambda w, p: {"json": {"user": "alice", "projects": [p]}}),
    Body("api", "/api/v0/compare", "task", lambda w, t: {"params": {"ids": f"{w.b_task},{t}"}}, method="GET"),
]


def _body_cases() -> list:
    return [pytest.param(b, id=f"{b.app} {b.method} {b.path} naming A's {b.key}",
                         marks=[pytest.mark.xfail(strict=True, reason=b.xfail)] if b.xfail else [])
            for b in BODIES]


@pytest.mark.parametrize("body", _body_cases())
def test_a_body_naming_a_foreign_object_reads_as_made_up(world, body):
    w = world
    real = "A" if body.key == "A" else w.ids[body.key]
    fake = {"A": MADE_UP["project_id"], "task": MADE_UP["task_id"]}.get(body.key, MADE_UP["name"])
    before = a_as_it_is(w)
    foreign = requests.request(body.method, w.stack.url + body.path, headers=w.bob, timeout=60, **body.send(w, real))
    missing = requests.request(body.method, w.stack.url + body.path, headers=w.bob, timeout=60, **body.send(w, fake))
    assert foreign.status_code == missing.status_code and 400 <= foreign.status_code < 500, \
        (body.path, foreign.status_code, foreign.text[:300], missing.status_code, missing.text[:300])
    assert _without(foreign.text, real) == _without(missing.text, fake), (body.path, foreign.text, missing.text)
    assert a_as_it_is(w) == before, body.path


def test_a_token_naming_a_foreign_project_sees_nothing_of_it(world):
    """B's editor may make itself a token limited to project A: it reaches nothing there."""
    w = world
    r = requests.post(w.stack.url + "/api/v0/tokens", json={"name": "reach", "projects": ["A"]}, headers=w.bob,
                      timeout=60)
    if r.status_code == 201:
        token = {"Authorization": f"Bearer {r.json()['secret']}"}
        assert requests.get(f"{w.stack.url}/api/v0/tasks/{w.task}", headers=token, timeout=60).status_code == 404
        assert requests.get(w.stack.url + "/api/v0/whoami", headers=token, timeout=60).json()["projects"] == []
    else:
        assert r.status_code == 403, r.text


# -- metrics --------------------------------------------------------------------------------
def _labels(url: str, headers: dict) -> list[dict]:
    r = requests.get(url, headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return [s.labels for fam in text_string_to_metric_families(r.text) for s in fam.samples]


def _naming(labels: list[dict], project: str, ids: set[str]) -> list[dict]:
    """The label sets that name ``project`` or one of its objects' ``ids``."""
    return [lb for lb in labels if lb.get("project") == project or lb.get("proj_id") == project
            or any(i in v for v in lb.values() for i in ids)]


def _predicted(w: World) -> None:
    """A prediction of A's model, so the serving role has series labelled with it."""
    r = requests.post(f"{w.serving.url}/predictions/{w.model}", json=w.matrix, headers=w.alice, timeout=60)
    assert r.status_code == 200, r.text


METRICS_URLS = [("api", "/metrics"), ("serving", "/metrics"), ("serving", "/serving/metrics")]


@pytest.mark.parametrize("app, path", [pytest.param(a, p, id=f"{a} {p}") for a, p in METRICS_URLS])
def test_metrics_show_a_project_its_own_labels(world, app, path):
    w = world
    _predicted(w)
    base = w.stack.url if app == "api" else w.serving.url
    assert _naming(_labels(base + path, w.alice), "A", set(w.ids.values())), f"{app} {path}: no label of A"


@pytest.mark.parametrize("app, path", [pytest.param(a, p, id=f"{a} {p}") for a, p in METRICS_URLS])
def test_metrics_show_no_label_of_another_project(world, app, path):
    """B's editor sees no series of A's (and A's editor none of B's, which the admin sees: B has
    tasks, no model)."""
    w = world
    _predicted(w)
    url = (w.stack.url if app == "api" else w.serving.url) + path
    b_ids = {w.b_task, w.b_dataset}
    if app == "api":
        assert _naming(_labels(url, w.stack.headers), "B", b_ids), "no label of B to hide"
    leaked = _naming(_labels(url, w.bob), "A", set(w.ids.values())) + _naming(_labels(url, w.alice), "B", b_ids)
    assert not leaked, leaked[:5]


# -- listings (last: some need a task of A running) -----------------------------------------
@dataclass(frozen=True)
class Listing:
    """``app``'s GET ``path`` with ``query``: ``rows`` picks the identifiers of an answer; A's
    owner sees ``mine`` among them, B's caller ``theirs``, and B none of A's identifiers
    anywhere in the answer."""

    app: str
    path: str
    query: Callable[[World], dict] = lambda w: {}
    rows: Callable[[dict], set] = lambda body: set()
    mine: Callable[[World], set] = lambda w: set()
    theirs: Callable[[World], set] = lambda w: set()
    running: bool = False  # needs a task of A held by the worker
    caller: str = "bob"  # B's caller: bella (B's admin) for the audit log
    owner: str = "alice"  # A's: the stack's admin (A's admin) for the audit log
    xfail: str | None = None


def _tasks(body: dict) -> set:
    return {t["task_id"] for t in body["tasks"]} | {f"project {t['proj_id']}" for t in body["tasks"]}


LISTINGS = [
    Listing("api", "/api/v0/tasks", rows=_tasks, mine=lambda w: {w.task, w.child, "project A"},
            theirs=lambda w: {w.b_task}),
    Listing("api", "/api/v0/tasks", lambda w: {"parent": w.task}, _tasks, lambda w: {w.child}),
    Listing("api", "/api/v0/tasks", lambda w: {"dataset": w.dataset}, _tasks, lambda w: {w.task, w.child}),
    Listing("api", "/api/v0/tasks", lambda w: {"sweep_id": SWEEP}, _tasks, lambda w: {w.task, w.child},
            lambda w: {w.b_task}),
    Listing("api", "/api/v0/tasks", lambda w: {"proj_id": "A"}, _tasks, lambda w: {w.task, w.child}),
    Listing("api", "/api/v0/tasks", lambda w: {"status": "RUNNING"}, _tasks, lambda w: {w.running}, running=True),
    Listing("api", "/api/v0/datasets", rows=lambda b: {d["name"] for d in b["datasets"]}
            | {f"project {d['proj_id']}" for d in b["datasets"]}, mine=lambda w: {w.dataset},
            theirs=lambda w: {w.b_dataset}),
    Listing("api", "/api/v0/models"),  # the network catalog: no project's
    Listing("api", "/models", rows=lambda b: {m["modelName"] for m in b["models"]}, mine=lambda w: {w.model}),
    Listing("api", "/api/v1/models", rows=lambda b: set(b["model_list"]), mine=lambda w: {w.model}),
    Listing("api", "/api/v1/models/information", rows=lambda b: {m["model"] for m in b["model_list"]},
            mine=lambda w: {w.model}),
    Listing("api", "/api/v0/queues", rows=lambda b: {h["task_id"] for h in b["held"]}, mine=lambda w: {w.running},
            running=True),
    Listing("api", "/api/v0/gpus", rows=lambda b: {x["current_task_id"] for x in b["workers"]} - {None},
            mine=lambda w: {w.running}, running=True),
    Listing("api", "/gpu", running=True),  # MXServer's shape: figures only
    Listing("api", "/api/v0/projects", rows=lambda b: {f"project {p['id']}" for p in b["projects"]},
            mine=lambda w: {"project A"}, theirs=lambda w: {"project B"}),
    Listing("api", "/api/v0/whoami", rows=lambda b: {f"project {p['id']}" for p in b["projects"]},
            mine=lambda w: {"project A"}, theirs=lambda w: {"project B"}),
    Listing("api", "/api/v0/tokens", rows=lambda b: {f"user {t['user_id']}" for t in b["tokens"]},
            mine=lambda w: {f"user {w.user_ids['alice']}"}, theirs=lambda w: {f"user {w.user_ids['bob']}"}),
    Listing("api", "/api/v0/audit", rows=lambda b: {f"project {e['proj_id']}" for e in b["entries"]},
            mine=lambda w: {"project A"}, theirs=lambda w: {"project B"}, caller="bella", owner="admin"),
]


def _listing_cases() -> list:
    out = []
    for x in LISTINGS:
        keys = ",".join(x.query(World(*[None] * 6)))  # the query's keys name the case
        out.append(pytest.param(x, id=f"{x.app} GET {x.path}" + (f"?{keys}" if keys else ""),
                                marks=[pytest.mark.xfail(strict=True, reason=x.xfail)] if x.xfail else []))
    return out


@pytest.fixture(scope="module")
def running(world):
    """A task of A held by the worker while the listings of held work are read; sent past the
    stack's bookkeeping (its clean-up after each test would stop it), stopped at the module's end."""
    w = world
    r = requests.post(w.stack.url + "/api/v0/new_task", headers=w.alice, timeout=60, json=form(
        proj_id="A", epochs=1000, batch_size=1, **_data(w.dataset)))
    assert r.status_code == 201, r.text
    w.running = r.json()["task_form"]["task_id"]
    w.stack.wait_task(w.running, statuses={"RUNNING"}, timeout=120)
    yield w.running
    w.stack.post(f"/api/v0/tasks/{w.running}/stop")
    w.stack.wait_task(w.running, timeout=120)


@pytest.mark.parametrize("listing", _listing_cases())
def test_listings_show_no_foreign_row(world, request, listing):
    w = world
    if listing.running:
        request.getfixturevalue("running")
    url, query = (w.stack.url if listing.app == "api" else w.serving.url) + listing.path, listing.query(w)
    owner = requests.get(url, params=query, timeout=60,
                         headers=w.stack.headers if listing.owner == "admin" else getattr(w, listing.owner))
    assert owner.status_code == 200, owner.text[:300]
    assert listing.mine(w) <= listing.rows(owner.json()), (listing.path, query, owner.text[:500])
    foreign = requests.get(url, params=query, headers=getattr(w, listing.caller), timeout=60)
    assert foreign.status_code == 200, foreign.text[:300]
    seen = listing.rows(foreign.json())
    assert listing.theirs(w) <= seen, (listing.path, query, foreign.text[:500])
    a_ids = set(w.ids.values()) | ({w.running} if listing.running else set())
    assert not seen & (a_ids | {"project A", f"user {w.user_ids['alice']}"}), (listing.path, query, seen)
    leaked = [v for v in a_ids if v in foreign.text]
    assert not leaked, (listing.path, query, leaked, foreign.text[:500])
