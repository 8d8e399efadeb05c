"""Server-sent events read from a streamed ``requests`` response (the task log's follow)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

import requests


@dataclass
class Event:
    event: str
    data: str
    id: str | None

    def json(self) -> dict:
        return json.loads(self.data)


def events(response: requests.Response) -> Iterator[Event]:
    """Each complete event of the stream; a comment (``: keepalive``) or a ``retry:`` yields
    nothing. An event cut off by a dropped connection (no blank line after it) is not yielded,
    so a reader resumes from the last whole one."""
    event, data, event_id = "message", [], None
    for raw in response.iter_lines(chunk_size=None, decode_unicode=True):
        if raw == "":
            if data:
                yield Event(event, "\n".join(data), event_id)
            event, data, event_id = "message", [], None
        elif raw.startswith(":"):
            continue
        else:
            key, _, value = raw.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                event = value
            elif key == "data":
                data.append(value)
            elif key == "id":
                event_id = value
