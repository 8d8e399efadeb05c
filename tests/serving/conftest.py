import pytest

from tests.serving.harness import Serving, deploy, train_task, wait_ready
from tests.service.stack import Stack

# Small limits so the 413 cases are cheap to send.
LIMITS = {"TRAINYARD_SERVE_MAX_BODY_MB": "2", "TRAINYARD_MAX_ONNX_MB": "1"}


@pytest.fixture(scope="package")
def served():
    """PostgreSQL + Redis, the API, a torch worker, a serving process; one trained SGN task
    deployed as "sgn" (READY before the tests start). Shared by every module here: training
    and exporting is the slow part."""
    stack = Stack("pg-redis")
    stack.env.update(LIMITS)
    try:
        stack.start(workers=1, reaper=False)
        stack.apply_env()
        serving = Serving(stack).start()
        task_id = train_task(stack)
        deploy(stack, task_id, name="sgn", batch_size=8, max_batch_delay=20, min_worker=1, max_worker=2)
        described = wait_ready(stack, "sgn")
        assert described["status"] == "READY", described
        serving.wait_model("sgn")
        yield stack, serving, task_id
    finally:
        stack.stop()
