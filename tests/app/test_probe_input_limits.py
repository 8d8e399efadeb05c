"""Issue 27, item 3: answers to oversized or many-part inputs are short and say what is wrong.
A list field past its bound is one error, not one per item; no 422 lists more than
``MAX_ERRORS`` problems (one more entry says how many were left out); a 413 names the limit the
request broke (its size, its number of parts, a form field's size); an over-long URL is a JSON
414 naming the limit."""

from __future__ import annotations

import json

import pytest

from contracts.task_form import MAX_DATASETS
from tests.app.inprocess import in_process_api
from tests.service.forms import form
from webcommon.errors import MAX_ERRORS


@pytest.fixture(scope="module")
def api():
    with in_process_api() as api:
        api.project("P")
        yield api


def _post_json(api, path: str, payload: dict):  # noqa: ANN202
    # compact, as a client that means to fit TRAINYARD_MAX_JSON_KB sends it
    return api.post(path, data=json.dumps(payload, separators=(",", ":")),
                    headers={"Content-Type": "application/json"})


def test_a_list_past_its_bound_is_one_error(api):
    r = _post_json(api, "/api/v0/new_task", form(proj_id="P", train_data=[0] * 125_000))
    assert r.status_code == 422, r.text[:500]
    errors = r.json["errors"]
    assert [e["field"] for e in errors] == ["train_data"], errors[:5]
    assert str(MAX_DATASETS) in errors[0]["problem"] and "125000" in errors[0]["problem"], errors
    assert len(r.data) < 2000


def test_a_list_within_its_bound_still_names_each_bad_item(api):
    r = _post_json(api, "/api/v0/new_task", form(proj_id="P", train_data=["ok", ""]))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json["errors"]] == ["train_data[1]"], r.json


def test_no_422_lists_more_than_max_errors(api):
    many = form(proj_id="P") | {f"unknown_{i}": 1 for i in range(5000)}
    r = _post_json(api, "/api/v0/new_task", many)
    assert r.status_code == 422, r.text[:500]
    errors = r.json["errors"]
    assert len(errors) == MAX_ERRORS + 1, len(errors)
    assert errors[-1]["field"] == "body" and f"{5000 - MAX_ERRORS} more" in errors[-1]["problem"], errors[-1]
    assert len(r.data) < 10_000


def test_many_nul_bytes_in_a_form_are_a_short_422(api):
    body = "&".join(f"k{i}%00=1" for i in range(5000))
    r = api.post("/api/v0/datasets", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422, r.text[:500]
    assert len(r.json["errors"]) == MAX_ERRORS + 1 and len(r.data) < 10_000


def test_too_many_multipart_parts_is_a_413_naming_the_part_limit(api):
    r = api.post("/api/v0/datasets", data={f"f{i}": "x" for i in range(1001)}, content_type="multipart/form-data")
    assert r.status_code == 413, r.text
    msg = r.json["msg"]
    assert "1000" in msg and "parts" in msg and "MiB" not in msg, msg


def test_a_large_multipart_text_field_is_a_413_naming_the_field_limit(api):
    r = api.post("/api/v0/datasets", data={"name": "x" * 600_000}, content_type="multipart/form-data")
    assert r.status_code == 413, r.text
    msg = r.json["msg"]
    assert "field" in msg and "500000 bytes" in msg and "MiB" not in msg, msg


def test_an_over_long_url_is_a_json_414_naming_the_limit(api):
    from app.uploads import MAX_URL_BYTES

    r = api.get("/api/v0/tasks", query_string={"q": "x" * MAX_URL_BYTES})
    assert r.status_code == 414, r.text[:300]
    assert r.is_json and str(MAX_URL_BYTES) in r.json["msg"], r.json
    assert api.get("/api/v0/tasks", query_string={"q": "x" * (MAX_URL_BYTES // 2)}).status_code == 200


def test_a_multipart_part_whose_name_cannot_be_decoded_is_a_field_error_not_a_500(api):
    """Found by schemathesis: werkzeug gives such a part no name (None), which the NUL-byte check
    tripped over."""
    body = (b'--b\r\nContent-Disposition: form-data; name="\\"\r\n\r\n{}\r\n'
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="file"\r\n\r\nxx\r\n--b--\r\n')
    r = api.post("/api/v0/datasets", data=body, content_type="multipart/form-data; boundary=b")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "file", r.text
