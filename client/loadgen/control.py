"""The run's small local control API (the MLPerf HTTP load generator's start / set intensity / stop).

Bound to 127.0.0.1 only. Commands go onto a queue that the run's main loop reads:

| call | does |
| --- | --- |
| `GET /status` | `{"state": "waiting" or "running" or "stopping", "rate": current req/s, "elapsed_s": ...}` |
| `POST /start` | starts a run begun with `--wait-start` |
| `POST /rate` `{"rate": 800}` (or `?rate=800`) | sets the rate from 0.2 s from now on, replacing the plan |
| `POST /stop` | ends the run; what was measured is reported as usual |
"""

from __future__ import annotations

import json
import math
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Control:
    def __init__(self, port: int = 0):
        self.commands: queue.Queue = queue.Queue()
        self.status: dict = {"state": "waiting", "rate": None, "elapsed_s": 0.0}
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Control":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        control = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the terminal for the live view
                pass

            def _reply(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if urlsplit(self.path).path == "/status":
                    self._reply(200, control.status)
                else:
                    self._reply(404, {"error": "unknown path; use /status, /start, /rate, /stop"})

            def do_POST(self):
                parts = urlsplit(self.path)
                if parts.path in ("/start", "/stop"):
                    control.commands.put((parts.path[1:],))
                    self._reply(202, {"accepted": parts.path[1:]})
                elif parts.path == "/rate":
                    rate, problem = self._rate(parts.query)
                    if problem:
                        self._reply(422, {"errors": [{"field": "rate", "problem": problem}]})
                    else:
                        control.commands.put(("rate", rate))
                        self._reply(202, {"accepted": "rate", "rate": rate})
                else:
                    self._reply(404, {"error": "unknown path; use /status, /start, /rate, /stop"})

            def _rate(self, query: str) -> tuple[float | None, str | None]:
                raw = parse_qs(query).get("rate", [None])[0]
                if raw is None:
                    length = int(self.headers.get("Content-Length") or 0)
                    try:
                        raw = json.loads(self.rfile.read(length) or b"{}").get("rate")
                    except (ValueError, AttributeError):
                        return None, "body must be a JSON object like {\"rate\": 500}"
                try:
                    rate = float(raw)
                except (TypeError, ValueError):
                    return None, "missing or not a number"
                if not (rate >= 0 and math.isfinite(rate)):
                    return None, "must be a number of requests/s >= 0"
                return rate, None

        return Handler
