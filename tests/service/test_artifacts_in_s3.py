"""A stack whose artifacts live in S3 (a real moto server): a worker with a filesystem of its own
(its own TRAINYARD_VAR_DIR, nothing shared with the API) trains, and another fine-tunes from weights
it can only read through the store; the API streams the weights back from the bucket, byte for
byte; the rows keep only metadata."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import select

from tests.blobstore.moto_server import moto_server
from tests.service.forms import form
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory):
    with moto_server() as moto:
        bucket = f"trainyard-{uuid.uuid4().hex[:8]}"
        moto.create_bucket(bucket)
        with running_stack(workers=0, env=moto.env(bucket, "artifacts")) as stack:
            stack.moto, stack.bucket = moto, bucket
            stack.start_worker("w0", extra_env={"TRAINYARD_VAR_DIR": str(tmp_path_factory.mktemp("w0-own-disk"))})
            yield stack


def _objects(stack) -> dict[str, int]:  # noqa: ANN001
    listed = stack.moto.client().list_objects_v2(Bucket=stack.bucket, Prefix="artifacts/")
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


def test_training_and_fine_tuning_go_through_the_bucket(s3_stack):
    from dao.db import session_scope
    from dao.tables import TaskArtifact

    parent = s3_stack.wait_task(s3_stack.submit(form(epochs=2)))
    assert parent["status"] == "SUCCEEDED", parent
    child = s3_stack.wait_task(s3_stack.submit(form(task_type="dl_ft", epochs=1, trained_task_id=parent["task_id"])))
    assert child["status"] == "SUCCEEDED", child
    assert child["parent_task_id"] == parent["task_id"]
    # An evaluation loads the parent's weights from the bucket: on the parent's own held-out
    # subjects it must score exactly what the parent scored.
    evaluated = s3_stack.wait_task(s3_stack.submit(form(task_type="dl_ev", trained_task_id=parent["task_id"])))
    assert evaluated["status"] == "SUCCEEDED", evaluated
    assert evaluated["result"]["test_n"] == parent["result"]["test_n"]
    assert evaluated["result"]["test_accuracy"] == parent["result"]["test_accuracy"]

    with session_scope() as session:
        rows = session.execute(select(TaskArtifact.task_id, TaskArtifact.kind, TaskArtifact.blob_key,
                                      TaskArtifact.size, TaskArtifact.in_row)).all()
    objects = _objects(s3_stack)
    assert {(r.task_id, r.kind) for r in rows} >= {(parent["task_id"], "weights"), (child["task_id"], "weights")}
    for row in rows:
        assert row.in_row is None, f"{row.task_id}/{row.kind} kept its bytes in the database"
        assert objects[f"artifacts/{row.blob_key}"] == row.size
    # A succeeded task keeps no resume checkpoint, in its rows or in the bucket.
    assert not {r.kind for r in rows} & {"checkpoint", "checkpoint_best"}, {r.kind for r in rows}
    assert set(objects) == {f"artifacts/{r.blob_key}" for r in rows}

    # through the API (an s3:// artifact otherwise answers 302 to a presigned URL, and the
    # bucket's answer carries no X-Content-SHA256)
    download = s3_stack.get(f"/api/v0/tasks/{parent['task_id']}/model?redirect=false")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == download.headers["X-Content-SHA256"]
    assert int(download.headers["Content-Length"]) == len(download.content)
