"""Two projects on a real stack for the isolation walk (tests/service/test_isolation_walk.py).

Project A holds everything a URL can name, each really there and ready, so that a foreign
token's 404 can only come from the project check: a SUCCEEDED task with weights, plots, logs,
epochs and a kept epoch checkpoint, a fine-tuned child of it, both in one sweep and trained on
A's uploaded dataset, and the task deployed as a served model (READY in a serving process).
Project B holds its own dataset and a task in a sweep of the same id, so B's listings are not
empty and a filter by that sweep id has rows of both projects.

The callers are members, not the service admin: alice edits A, bob edits B, bella administers
B (for the audit log). The stack admin's token is A's (and everyone's) admin.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from tests.service.forms import form, small_npz
from tests.service.stack import Stack, running_stack
from tests.serving.harness import Serving, wait_ready

REGIONS = 6  # the uploaded datasets' matrices: small, so training and predicting are cheap
SWEEP = "SWEEP-isolation-walk"  # A's and B's sweeps share the id; a filter by it must split them
SWEEP_A = "SWEEP-isolation-a"  # A's alone: B's request for its record reads as a made-up sweep's


@dataclass
class World:
    stack: Stack
    serving: Serving
    alice: dict[str, str]  # A's editor
    bob: dict[str, str]  # B's editor
    bella: dict[str, str]  # B's admin
    alice_spare: int  # the id of a second token of alice's (a revocation needs a victim)
    dataset: str = "iso-a-data"
    task: str = ""  # SUCCEEDED, trained on A's dataset, in the sweep
    child: str = ""  # a fine-tune of ``task``, SUCCEEDED, in the sweep
    model: str = "iso-a-model"  # ``task`` deployed, READY
    version: str = "1"
    description: str = "A's model"
    checkpoint_epoch: int = 1
    b_dataset: str = "iso-b-data"
    b_task: str = ""  # in the sweep of the same id, stopped
    a_sweep_task: str = ""  # A's, in SWEEP_A, stopped
    plots: tuple[str, ...] = ("curves", "confusion")
    matrix: list = field(default_factory=lambda: [[float(i == j) for j in range(REGIONS)] for i in range(REGIONS)])
    user_ids: dict[str, int] = field(default_factory=dict)  # alice, bob, bella
    running: str = ""  # a task of A held by the worker, while a test needs one (test_isolation_walk.running)

    @property
    def ids(self) -> dict[str, str]:
        """A's identifiers that no answer to B may contain."""
        return {"task": self.task, "child": self.child, "dataset": self.dataset, "model": self.model}


def member_token(s: Stack, project: str, user: str, role: str) -> tuple[dict[str, str], int]:
    r = s.post(f"/api/v0/projects/{project}/members", json={"user": user, "role": role})
    assert r.status_code == 201, r.text
    return new_token(s, user)


def new_token(s: Stack, user: str) -> tuple[dict[str, str], int]:
    r = s.post("/api/v0/tokens", json={"user": user, "name": f"{user}'s"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['secret']}"}, r.json()["token"]["id"]


def _upload(s: Stack, name: str, project: str, headers: dict, n: int = 40) -> None:
    r = s.post("/api/v0/datasets", files={"file": (f"{name}.npz", small_npz(n=n, r=REGIONS))},
               data={"name": name, "proj_id": project}, headers=headers)
    assert r.status_code == 201, r.text


def _submit(s: Stack, headers: dict, **changes) -> str:
    r = s.post("/api/v0/new_task", json=form(**changes), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["task_form"]["task_id"]


def _trained(s: Stack, headers: dict, **changes) -> str:
    task_id = _submit(s, headers, **changes)
    done = s.wait_task(task_id, timeout=300)
    assert done["status"] == "SUCCEEDED", done
    return task_id


def _keep_epoch_checkpoint(task_id: str, epoch: int) -> None:
    """An epoch checkpoint as the MXNet runner keeps one (tasks/runner.py on_checkpoint): only
    MXNet tasks keep them, and an MXNet worker costs a minute of this machine; the routes read
    the artifact row alone."""
    from dao import artifact_queries
    from dao.db import session_scope

    with session_scope() as session:
        artifact_queries.save_artifact(session, task_id, artifact_queries.epoch_checkpoint_kind(epoch),
                                       b"a kept checkpoint", epoch=epoch)


def build(s: Stack) -> World:
    serving = Serving(s).start()
    for project in ("A", "B"):
        assert s.post("/api/v0/projects", json={"id": project, "name": f"project {project}"}).status_code == 201
    alice, _ = member_token(s, "A", "alice", "editor")
    _, spare = new_token(s, "alice")
    bob, _ = member_token(s, "B", "bob", "editor")
    bella, _ = member_token(s, "B", "bella", "admin")
    w = World(s, serving, alice, bob, bella, spare)
    w.user_ids = {user: s.get("/api/v0/whoami", headers=getattr(w, user)).json()["user"]["id"]
                  for user in ("alice", "bob", "bella")}

    data = {"train_data": [w.dataset], "val_data": [w.dataset], "test_data": [w.dataset]}
    _upload(s, w.dataset, "A", alice)
    w.task = _trained(s, alice, proj_id="A", epochs=2, batch_size=10, sweep_id=SWEEP, **data)
    w.child = _trained(s, alice, proj_id="A", task_type="dl_ft", trained_task_id=w.task, epochs=1,
                       batch_size=10, sweep_id=SWEEP, **data)
    _keep_epoch_checkpoint(w.task, w.checkpoint_epoch)
    r = s.post(f"/api/v0/tasks/{w.task}/deploy", json={"name": w.model, "description": w.description},
               headers=alice)
    assert r.status_code == 202, r.text
    assert wait_ready(s, w.model)["status"] == "READY"
    serving.wait_model(w.model)

    w.a_sweep_task = _submit(s, alice, proj_id="A", epochs=1, sweep_id=SWEEP_A, **data)
    s.post(f"/api/v0/tasks/{w.a_sweep_task}/stop", headers=alice)
    s.wait_task(w.a_sweep_task, timeout=120)

    _upload(s, w.b_dataset, "B", bob)
    w.b_task = _submit(s, bob, proj_id="B", epochs=1, sweep_id=SWEEP, train_data=[w.b_dataset],
                       val_data=[w.b_dataset], test_data=[w.b_dataset])
    s.post(f"/api/v0/tasks/{w.b_task}/stop", headers=bob)
    s.wait_task(w.b_task, timeout=120)
    return w


@contextlib.contextmanager
def two_projects():
    """The stack (a torch worker, fleet figures on /metrics) and its World."""
    env = {"TRAINYARD_SERVE_POLL_SECONDS": "0.2", "TRAINYARD_METRICS_FLEET": "1"}
    with running_stack(workers=1, reaper=False, env=env) as s:
        yield build(s)
