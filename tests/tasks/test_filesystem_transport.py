"""The embedded default's broker publishes each message atomically: a worker polling the queue
folder never finds a message file that is not yet fully written (kombu's own transport creates
the file under its final name and then writes it; a worker that read it empty died decoding it)."""

from __future__ import annotations

import os

import pytest
from kombu import Connection
from kombu.simple import SimpleQueue

from tasks import filesystem_transport


@pytest.fixture()
def folders(tmp_path):
    queue, processed = tmp_path / "queue", tmp_path / "processed"
    queue.mkdir(), processed.mkdir()
    options = {"data_folder_in": str(queue), "data_folder_out": str(queue), "processed_folder": str(processed),
               "store_processed": False, "polling_interval": 0.01}
    with Connection("filesystem://", transport="tasks.filesystem_transport:Transport",
                    transport_options=options) as conn:
        yield conn, queue


def test_a_message_goes_through(folders):
    conn, _ = folders
    with SimpleQueue(conn, "jobs") as q:
        q.put({"task_id": "T1"})
        message = q.get(timeout=5)
        assert message.payload == {"task_id": "T1"}
        message.ack()


def test_a_consumer_never_sees_a_message_being_written(folders, monkeypatch):
    """At the moment the message is complete and about to become visible, nothing a consumer
    would take is in the folder yet; right after, the message is whole."""
    conn, queue = folders
    seen_before: list[list[str]] = []
    rename = os.replace

    def watching_replace(src, dst):  # noqa: ANN001, ANN202
        seen_before.append(sorted(os.listdir(queue)))
        with open(src, "rb") as written:
            assert written.read().endswith(b"}")  # written in full before it is renamed
        return rename(src, dst)

    monkeypatch.setattr(filesystem_transport.os, "replace", watching_replace)
    with SimpleQueue(conn, "jobs") as q:
        q.put({"task_id": "T2"})
        assert seen_before and not [name for name in seen_before[0] if "jobs" in name]  # nothing to take yet
        message = q.get(timeout=5)
        assert message.payload == {"task_id": "T2"}
        message.ack()
    assert not [n for n in os.listdir(queue) if n.startswith(".writing-")]
