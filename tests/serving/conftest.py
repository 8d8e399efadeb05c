import pytest

from tests.serving.harness import Serving, deploy, train_task, wait_ready
from tests.service.stack import running_stack


@pytest.fixture(scope="module")
def served():
    """PostgreSQL + Redis, the API, a torch worker, a serving process; one trained SGN task
    deployed as "sgn" (READY before the tests start)."""
    with running_stack(workers=1, reaper=False) as stack:
        serving = Serving(stack).start()
        task_id = train_task(stack)
        deploy(stack, task_id, name="sgn", batch_size=8, max_batch_delay=20, min_worker=1, max_worker=2)
        described = wait_ready(stack, "sgn")
        assert described["status"] == "READY", described
        serving.wait_model("sgn")
        yield stack, serving, task_id
