"""Issue 27, item 3: every error body is JSON, also for a URL too long for the API. gunicorn
answers a request line past its ``limit_request_line`` itself, in HTML, before the app sees it;
gunicorn.conf.py sets that limit above the API's own MAX_URL_BYTES, so the API's JSON 414
answers first. Through a real gunicorn, because gunicorn's limit is the point."""

from __future__ import annotations

import pytest

from app.uploads import MAX_URL_BYTES
from tests.service.stack import running_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api():
    with running_stack(workers=0, reaper=False) as s:
        yield s


@pytest.mark.parametrize("length", [5000, 8000])
def test_a_url_past_the_apis_limit_is_a_json_414_naming_it(api, length):
    path = "/api/v0/tasks?q="
    r = api.get(path + "x" * (length - len(path)))
    assert r.status_code == 414, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/json"), r.text[:300]
    assert str(MAX_URL_BYTES) in r.json()["msg"] and r.json()["error_num"] == 414, r.json()


def test_a_url_within_the_limit_is_answered(api):
    path = "/api/v0/tasks?q="
    r = api.get(path + "x" * (MAX_URL_BYTES - len(path)))
    assert r.status_code == 200, r.text[:300]
