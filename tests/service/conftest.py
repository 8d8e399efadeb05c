import pytest

from tests.service.stack import running_stack


@pytest.fixture(scope="module")
def stack():
    """PostgreSQL + Redis, one gunicorn API, one worker and the reaper."""
    with running_stack(workers=1) as s:
        yield s
