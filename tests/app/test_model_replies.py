"""Views return their reply model (webcommon.replies.ModelApp): alone or with a status and
headers, written with the keys the view set, integers kept integers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contracts import replies as r
from webcommon.replies import ModelApp

PROGRESS = {"epoch": 3, "epochs": 10, "percent": 30, "eta_seconds": 12.5, "eta_at": None}


@pytest.fixture()
def client():
    app = ModelApp(__name__)

    @app.get("/plain")
    def plain():  # noqa: ANN202
        return r.Progress(**PROGRESS)

    @app.get("/status")
    def status():  # noqa: ANN202
        return r.Ping(health="healthy!"), 201

    @app.get("/headers")
    def headers():  # noqa: ANN202
        return r.Ping(health="healthy!"), 202, {"X-Extra": "1"}

    @app.get("/dict")
    def plain_dict():  # noqa: ANN202
        return {"still": "works"}

    return app.test_client()


def test_a_model_is_written_as_json_with_its_values_as_the_view_gave_them(client):
    reply = client.get("/plain")
    assert reply.status_code == 200 and reply.mimetype == "application/json"
    assert reply.get_json() == PROGRESS
    assert isinstance(reply.get_json()["percent"], int)  # a Number field keeps 30, not 30.0
    assert reply.data.startswith(b'{"epoch":3,')  # the model's field order, compact


def test_a_model_may_come_with_a_status_and_headers(client):
    assert (client.get("/status").status_code, client.get("/status").get_json()) == (201, {"health": "healthy!"})
    reply = client.get("/headers")
    assert reply.status_code == 202 and reply.headers["X-Extra"] == "1"
    assert client.get("/dict").get_json() == {"still": "works"}


def test_a_key_the_view_leaves_out_stays_out():
    from contracts.foreign_replies import TorchServeList

    assert TorchServeList(models=[]).model_dump_json(exclude_unset=True) == '{"models":[]}'
    assert r.TaskPage(tasks=[], next_cursor=None, sort="-created_at", limit=5).model_dump(exclude_unset=True) == {
        "tasks": [], "next_cursor": None, "sort": "-created_at", "limit": 5}


def test_a_reply_the_model_does_not_describe_fails_where_it_is_built():
    with pytest.raises(ValidationError):
        r.StopReply(error_num=0, msg="stopping", task_id="T", status="STOPPING", extra="no")


def test_numbers_stay_numbers_in_the_document():
    schema = r.Progress.model_json_schema()["properties"]
    assert schema["percent"] == {"title": "Percent", "type": "number"}
