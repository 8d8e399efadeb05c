import pytest

from tests.service.stack import LIVE, running_stack


@pytest.fixture(scope="module")
def stack():
    """PostgreSQL + Redis, one gunicorn API, one worker and the reaper."""
    with running_stack(workers=1) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_stacks_after_each_test():
    """Whatever a test did or failed to do, the next one finds no task of it still running
    and every worker up (Stack.clean_up)."""
    yield
    for s in list(LIVE):
        s.clean_up()
