"""schemathesis with project tokens, on both roles (issue 27, item 2).

tests/service/test_openapi_contract.py fuzzes the API's document with the service admin's token.
Here the same property-based run goes over

- the API's document with a *viewer* and an *editor* of project B, and
- the serving role's document (a serving process with project A's model READY) with the
  service admin's token, A's editor (the model's owner) and B's editor,

on the two-project world of the isolation walk (tests/service/isolation_world.py: A holds a
SUCCEEDED task with weights, plots and logs, a fine-tuned child, a dataset, a sweep and a served
model; B holds a dataset and a stopped task). Generated path parameters, the id-bearing query
parameters and a JSON body's ``task_id`` are drawn now and then from both projects' real ids (and
a made-up one), so that the generated requests do reach real objects of either project.

Each answer: no 5xx, every error body JSON, status, content type and body as documented, no stack
trace; and for a project token (``foreign_project_check``) no 2xx on a path that names another
project's object, and no body holding another project's id that the request did not name itself.

Stateful runs: neither document declares OpenAPI links; schemathesis' dependency analysis infers
them (the API's: 71 transitions, e.g. a created dataset, project, member or token to the operations
naming it; serving's: 13, a model's metadata to its prediction routes), and its state machine runs
short scenarios over them with the same checks: the API's with B's viewer and editor (not the
service admin's: its scenarios delete objects, so the server's state, and with it which rules
hypothesis can draw, differs between scenarios, which it refuses as a flaky strategy; the
admin's single-request fuzzing is in test_openapi_contract.py); serving's with A's and B's editors (its scenarios
seldom follow a link: they start from prediction routes as often as from the metadata that feeds
them, so they add little beyond the single-request run).

Run time (2 shared cores): about 65 s for the module, of which ~10 s build the world; per run,
in requests: the API ~3,160 requests per role (~9 s), serving ~720 (~1.5 s), each stateful run
~190 (~2 s). ``TRAINYARD_FUZZ_EXAMPLES`` and ``TRAINYARD_FUZZ_SCENARIOS`` scale them; run with
``-s`` to see the statuses answered per run.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app import create_app
from app.openapi import api_document
from serving.app import routes_only
from serving.openapi import serving_document
from tests.service.isolation_world import SWEEP, SWEEP_A, World, build, member_token
from tests.service.openapi_conformance import TRACE
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow
FUZZ_EXAMPLES = int(os.environ.get("TRAINYARD_FUZZ_EXAMPLES", "5"))
ENV = {"TRAINYARD_SERVE_POLL_SECONDS": "0.2", "TRAINYARD_AUTH_FAILURES_PER_MINUTE": "100000",
       "TRAINYARD_MAX_ONNX_MB": "1", "TRAINYARD_MAX_UPLOAD_MB": "2"}
MADE_UP = "made-up-0001"
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
# Serving's 20 operations answer in milliseconds: more examples each, so more of them reach the model.
FUZZ_SERVING = settings(FUZZ, max_examples=4 * FUZZ_EXAMPLES)


# Filled by the ``world`` fixture before any case is drawn: the real values a parameter may take.
POOLS: dict[str, list[Any]] = {}
QUERY_POOLS: dict[str, list[Any]] = {}
SERVING_POOLS: dict[str, list[Any]] = {}
TIMES: dict[str, float] = {}  # run → seconds spent in requests (printed at the end)
COUNTS: dict[str, Counter] = {}  # run → statuses answered


def _mixed(value: Any, pool: list[Any] | None) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(pool), st.just(value)) if pool else st.just(value)


def hooks(pools: dict[str, list[Any]], query_pools: dict[str, list[Any]]):  # noqa: ANN201
    """flatmap hooks drawing path parameters, id-bearing query parameters and a JSON body's
    ``task_id`` now and then from ``pools`` (filled when the world is built)."""

    def path_parameters(context, path_parameters: dict[str, Any]) -> st.SearchStrategy:  # noqa: ANN001
        if not path_parameters:
            return st.just(path_parameters)
        # A token id is always one of the pool's: a generated small integer could be the fuzzing
        # caller's own token, whose revocation would leave the rest of the run answering 401.
        return st.fixed_dictionaries({k: (st.sampled_from(pools[k]) if k == "token_id" and pools else
                                          _mixed(v, pools.get(k))) for k, v in path_parameters.items()})

    def query(context, query: dict[str, Any] | None) -> st.SearchStrategy:  # noqa: ANN001
        if not isinstance(query, dict) or not query:
            return st.just(query)
        return st.fixed_dictionaries({k: _mixed(v, query_pools.get(k)) for k, v in query.items()})

    def body(context, body: Any) -> st.SearchStrategy:  # noqa: ANN001
        if isinstance(body, dict) and "task_id" in body and pools.get("task_id"):
            return st.builds(lambda t: {**body, "task_id": t}, _mixed(body["task_id"], pools["task_id"]))
        return st.just(body)

    return {"flatmap_path_parameters": path_parameters, "flatmap_query": query, "flatmap_body": body}


def with_hooks(schema, pools: dict, query_pools: dict):  # noqa: ANN001, ANN201
    for name, function in hooks(pools, query_pools).items():
        schema.hook(name)(function)
    return schema


API = with_hooks(schemathesis.openapi.from_dict(api_document(create_app())), POOLS, QUERY_POOLS)
SERVING = with_hooks(schemathesis.openapi.from_dict(serving_document(routes_only())), SERVING_POOLS, {})


@pytest.fixture(scope="module")
def world():
    with running_stack(workers=1, reaper=False, env=ENV) as s:
        w = build(s)
        w.viewer, _ = member_token(s, "B", "vera", "viewer")  # B's viewer
        a_ids = [w.task, w.child, w.a_sweep_task]
        POOLS.update(task_id=a_ids + [w.b_task, MADE_UP], name=[w.dataset, w.model, w.b_dataset, MADE_UP],
                     project_id=["A", "B", MADE_UP], sweep_id=[SWEEP, SWEEP_A], version=["1", "2"],
                     token_id=[w.alice_spare, 987654321], user=["alice", "bob", "nobody"], epoch=[1, 2])
        QUERY_POOLS.update(parent=a_ids + [w.b_task], dataset=[w.dataset, w.b_dataset],
                           sweep_id=[SWEEP, SWEEP_A], proj_id=["A", "B"], ids=[f"{w.task},{w.b_task}"],
                           url=[f"task:{w.task}", f"onnx:{w.model}", f"task:{w.b_task}"],
                           model_name=[w.model, MADE_UP])
        SERVING_POOLS.update(name=[w.model, MADE_UP], version=["1", "2"])
        yield w
        for pools in (POOLS, QUERY_POOLS, SERVING_POOLS):
            pools.clear()
        for run, seconds in TIMES.items():
            print(f"\n{run}: {sum(COUNTS[run].values())} requests, {seconds:.1f} s, "
                  f"statuses {dict(sorted(COUNTS[run].items()))}")


def _foreign(w: World, role: str) -> tuple[set[str], set[str]]:
    """(ids of the project this role may not see, project ids it may not see)."""
    if role == "admin":
        return set(), set()
    if role == "alice":
        return {w.b_task, w.b_dataset}, {"B"}
    return {w.task, w.child, w.a_sweep_task, w.dataset, w.model, SWEEP_A}, {"A"}


# The dashboard's pages: the same shell for any id, a made-up one too (the isolation walk's Open);
# the page's scripts then read the object through the API, as the caller.
PAGE_SHELLS = ("/ui/",)


def foreign_project_check(w: World, role: str):  # noqa: ANN201
    ids, projects = _foreign(w, role)

    def check(ctx, response, case) -> None:  # noqa: ANN001
        named = {k: v for k, v in (case.path_parameters or {}).items()
                 if str(v) in ids or (k == "project_id" and v in projects)
                 or (k == "token_id" and role != "alice" and str(v) == str(w.alice_spare))}
        if 200 <= response.status_code < 300 and named and not case.path.startswith(PAGE_SHELLS):
            raise AssertionError(f"{role} got {response.status_code} on another project's {named}: "
                                 f"{response.content[:300]!r}")
        asked = json.dumps([case.path_parameters, case.query, case.body], default=str)
        body = response.content.decode("utf-8", "replace")
        leaked = sorted(i for i in ids if i in body and i not in asked)
        if leaked:
            raise AssertionError(f"{role}'s {response.status_code} answer holds another project's {leaked}: "
                                 f"{body[:500]}")
    return check


def json_errors(ctx, response, case) -> None:  # noqa: ANN001
    """Every error body is JSON (a 4xx or 5xx of any route, as documented or not)."""
    if response.status_code >= 400:
        kind = response.headers.get("Content-Type", response.headers.get("content-type", ""))
        kind = kind[0] if isinstance(kind, list) else kind
        assert "json" in kind, f"{response.status_code} answered {kind!r}: {response.content[:300]!r}"
        json.loads(response.content)


HEADERS = {"admin": lambda w: w.stack.headers, "alice": lambda w: w.alice, "bob": lambda w: w.bob,
           "viewer": lambda w: w.viewer}


def _after(response, case, w: World, role: str, run: str) -> None:  # noqa: ANN001
    COUNTS.setdefault(run, Counter())[response.status_code] += 1
    if 200 <= response.status_code < 300 and case.method.upper() == "POST":  # a task a fuzzed request queued is stopped
        try:                                          # after the test (Stack.clean_up)
            body = response.json()
            task_id = (body.get("task_form") or {}).get("task_id") or body.get("task_id")
            if isinstance(task_id, str):
                w.stack.unfinished.add(task_id)
        except (ValueError, AttributeError):
            pass


def _validate(response, case, w: World, role: str) -> None:  # noqa: ANN001
    text = response.content.decode("utf-8", "replace")
    assert not TRACE.search(text), f"a stack trace in the body: {text[:500]}"
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance, response_schema_conformance,
                                             json_errors, foreign_project_check(w, role)])


def _fuzz(case, w: World, role: str, base_url: str, run: str) -> None:  # noqa: ANN001
    started = time.monotonic()
    try:
        response = case.call(base_url=base_url, headers=dict(HEADERS[role](w)), timeout=30)
    finally:
        TIMES[run] = TIMES.get(run, 0.0) + time.monotonic() - started
    _after(response, case, w, role, run)
    _validate(response, case, w, role)


# viewer first: its run changes nothing of B's that the editor's run would then miss
@pytest.mark.parametrize("role", ["viewer", "bob"])
@API.parametrize()
@FUZZ
def test_api_fuzz_with_a_project_token(case, world, role):  # noqa: ANN001
    _fuzz(case, world, role, world.stack.url, f"api {role}")


@pytest.mark.parametrize("role", ["admin", "alice", "bob"])
@SERVING.parametrize()
@FUZZ_SERVING
def test_serving_fuzz(case, world, role):  # noqa: ANN001
    _fuzz(case, world, role, world.serving.url, f"serving {role}")


STATEFUL_SCENARIOS = int(os.environ.get("TRAINYARD_FUZZ_SCENARIOS", "30"))


def _run_stateful(schema, w: World, role: str, base_url: str, run: str) -> None:  # noqa: ANN001
    machine = schema.as_state_machine()
    assert machine.schema.statistic.transitions.total, "no links inferred: nothing stateful to run"

    class Workflow(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case):  # noqa: ANN001, ANN202
            return {"base_url": base_url, "headers": dict(HEADERS[role](w)), "timeout": 30}

        def after_call(self, response, case) -> None:  # noqa: ANN001
            super().after_call(response, case)
            _after(response, case, w, role, run)

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:  # noqa: ANN001
            _validate(response, case, w, role)

    started = time.monotonic()
    try:
        Workflow.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, deadline=None,
                                       derandomize=True, database=None, phases=[Phase.generate],
                                       suppress_health_check=list(HealthCheck)))
    finally:
        TIMES[run] = TIMES.get(run, 0.0) + time.monotonic() - started


@pytest.mark.parametrize("role", ["viewer", "bob"])
def test_api_stateful_with_a_project_token(world, role):  # noqa: ANN001
    schema = with_hooks(schemathesis.openapi.from_dict(api_document(create_app())), POOLS, QUERY_POOLS)
    _run_stateful(schema, world, role, world.stack.url, f"api {role} stateful")


@pytest.mark.parametrize("role", ["alice", "bob"])
def test_serving_stateful(world, role):  # noqa: ANN001
    schema = with_hooks(schemathesis.openapi.from_dict(serving_document(routes_only())), SERVING_POOLS, {})
    _run_stateful(schema, world, role, world.serving.url, f"serving {role} stateful")


def test_the_foreign_project_check_fails_on_a_leak():
    """The custom check is not vacuous: a 2xx on a path naming A's object, or an answer holding
    an id of A's that the request did not name, fails it; the 404 echoing the named id does not."""
    from types import SimpleNamespace as NS

    w = NS(task="TASK-A", child="TASK-A2", a_sweep_task="TASK-A3", dataset="a-data", model="a-model",
           b_task="TASK-B", b_dataset="b-data", alice_spare=7)
    check = foreign_project_check(w, "bob")

    def case(path_parameters=None, query=None, path="/api/v0/tasks/{task_id}"):  # noqa: ANN001, ANN202
        return NS(path_parameters=path_parameters or {}, query=query or {}, body=None, path=path)

    def answer(status: int, body: str):  # noqa: ANN202
        return NS(status_code=status, content=body.encode())

    check(None, answer(404, '{"msg": "task TASK-A does not exist"}'), case({"task_id": "TASK-A"}))
    check(None, answer(200, '{"tasks": []}'), case(query={"parent": "TASK-A"}, path="/api/v0/tasks"))
    check(None, answer(200, "<title>Task TASK-A</title>"), case({"task_id": "TASK-A"}, path="/ui/tasks/{task_id}"))
    for leak in [(answer(200, '{"task_id": "TASK-A"}'), case({"task_id": "TASK-A"})),
                 (answer(200, '{"members": []}'), case({"project_id": "A"}, path="/api/v0/projects/{project_id}")),
                 (answer(200, '{"ok": 1}'), case({"token_id": 7}, path="/api/v0/tokens/{token_id}")),
                 (answer(200, '{"tasks": [{"task_id": "TASK-A2"}]}'), case(path="/api/v0/tasks")),
                 (answer(409, '{"msg": "a-model is taken"}'), case({"name": "x"}, path="/models/{name}"))]:
        with pytest.raises(AssertionError):
            check(None, *leak)
