import pytest

from tests.service.stack import Stack


@pytest.fixture(scope="module")
def stack():
    """PostgreSQL + Redis, one gunicorn API, one worker and the reaper."""
    s = Stack("pg-redis")
    try:
        s.start(workers=1)
        s.apply_env()
        yield s
    finally:
        s.stop()
