"""What to send: the request every send makes (picklable, handed to sender processes)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from client.loadgen.template import Template


class TargetError(ValueError):
    """A target that cannot be sent to (bad URL, unreachable host, bad body)."""


@dataclass(frozen=True)
class Target:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    template: str | None = None  # per-request body; see client.loadgen.template
    timeout: float = 10.0  # seconds a request may take before it counts as a timeout
    seed: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetError(f"URL must be http:// or https:// with a host, got {self.url!r}")
        if not self.timeout > 0:
            raise TargetError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.template is not None:
            Template(self.template)  # raises TemplateError on a bad placeholder

    def bodies(self, worker: int):
        """A function seq -> body bytes (or None) for one sender process."""
        if self.template is None:
            return lambda seq: self.body
        return Template(self.template, seed=self.seed * 1000 + worker).render

    def check_reachable(self, wait: float = 3.0) -> None:
        """Raises TargetError when nothing accepts a TCP connection at the URL's host and port."""
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname, port), timeout=wait):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TargetError(f"cannot reach {parts.hostname}:{port} ({reason})") from None


def kserve_target(base: str, model: str, input_name: str, shape: list[int], datatype: str = "FP32",
                  **kw) -> Target:
    """A KServe v2 ``infer`` request for ``model`` with one input of random values per request."""
    count = 1
    for dim in shape:
        if dim < 1:
            raise TargetError(f"input shape dimensions must be >= 1, got {shape}")
        count *= dim
    data = "{{floats:%d}}" % count if datatype.startswith("FP") else "{{int:0:100}}" + ",{{int:0:100}}" * (count - 1)
    template = json.dumps({"inputs": [{"name": input_name, "shape": shape, "datatype": datatype,
                                       "data": ["@@DATA@@"]}]}).replace('"@@DATA@@"', data)
    return Target(url=f"{base.rstrip('/')}/v2/models/{model}/infer", method="POST",
                  headers=(("Content-Type", "application/json"),), template=template, **kw)


def new_task_target(base: str, form: dict, **kw) -> Target:
    """``POST /api/v0/new_task`` with ``form``, its task_name made unique per request."""
    body = dict(form, task_name=f"{form.get('task_name', 'loadgen')}-@@SEQ@@")
    template = json.dumps(body).replace("@@SEQ@@", "{{seq}}-{{hex:6}}")
    return Target(url=f"{base.rstrip('/')}/api/v0/new_task", method="POST",
                  headers=(("Content-Type", "application/json"),), template=template, **kw)
