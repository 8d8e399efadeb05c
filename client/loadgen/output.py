"""Where a run's windows go while it runs: JSON lines, a live terminal table, or plain lines."""

from __future__ import annotations

import json
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.table import Table

COLUMNS = [("t", "window"), ("target", "target_rps"), ("offered", "offered_rps"), ("sent", "sent_rps"),
           ("QPS", "qps"), ("SR", "sr"), ("p50 ms", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"),
           ("p99.9", "p999_ms"), ("max", "max_ms"), ("errors", "errors"), ("lag p99", "lag_p99_ms"),
           ("late", "late")]


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 1 else f"{v:.1f}"
    return str(v)


def plain_line(w: dict) -> str:
    errs = " ".join(f"{k}={n}" for k, n in {**w["errors_by_status"], **w["errors_by_kind"]}.items())
    return ("t={window} offered={offered_rps} sent={sent_rps} qps={qps} sr={sr} p50={p50} p99={p99} "
            "max={mx} lag_p99={lag} late={late} errors={errors}{e}").format(
        **w, p50=_fmt(w["p50_ms"]), p99=_fmt(w["p99_ms"]), mx=_fmt(w["max_ms"]),
        lag=_fmt(w["lag_p99_ms"]), e=f" ({errs})" if errs else "")


class JsonLines:
    def __init__(self, stream: IO[str]):
        self.stream = stream

    def __call__(self, w: dict) -> None:
        self.stream.write(json.dumps(w) + "\n")
        self.stream.flush()


class PlainLines:
    def __init__(self, stream: IO[str]):
        self.stream = stream

    def __call__(self, w: dict) -> None:
        self.stream.write(plain_line(w) + "\n")
        self.stream.flush()


class LiveTable:
    """A table of the latest windows, redrawn in place (only when the stream is a terminal)."""

    def __init__(self, console: Console, title: str, keep: int = 15):
        self.console, self.title, self.keep = console, title, keep
        self.rows: list[dict] = []
        self.live = Live(self._table(), console=console, auto_refresh=False, transient=False)

    def _table(self) -> Table:
        table = Table(title=self.title, expand=False)
        for head, _ in COLUMNS:
            table.add_column(head, justify="right")
        for w in self.rows[-self.keep:]:
            style = "red" if w["errors"] or (w["sr"] is not None and w["sr"] < 0.99) else None
            table.add_row(*(_fmt(w.get(key)) for _, key in COLUMNS), style=style)
        return table

    def __enter__(self) -> "LiveTable":
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def __call__(self, w: dict) -> None:
        self.rows.append(w)
        self.live.update(self._table(), refresh=True)


def summary_text(s: dict) -> str:
    errs = {**s["errors_by_status"], **s["errors_by_kind"]}
    lines = [
        f"requests offered {s['offered']}, sent {s['sent']}, ok {s['ok']} (SR {_fmt(s['sr'])}) in {s['duration_s']} s",
        f"achieved send rate {_fmt(s['sent_rate'])} req/s, completed QPS {_fmt(s['qps'])}",
        f"latency ms (from intended send): p50 {_fmt(s['p50_ms'])}  p90 {_fmt(s['p90_ms'])}  "
        f"p99 {_fmt(s['p99_ms'])}  p99.9 {_fmt(s['p999_ms'])}  max {_fmt(s['max_ms'])}",
        f"errors {s['errors']}" + (f" ({', '.join(f'{k}: {n}' for k, n in errs.items())})" if errs else ""),
        f"send lag ms p99 {_fmt(s['lag_p99_ms'])} max {_fmt(s['lag_max_ms'])}; late sends {s['late']}; "
        f"generator CPU {_fmt(s['cpu_us_per_request'])} us/request",
    ]
    if s["slow_windows"]:
        lines.append(f"slow windows (p99 > 3x median p50): {s['slow_windows']}")
    if s["generator_bound_windows"]:
        lines.append(f"generator-bound windows (>1% late sends; the generator, not the server, was the limit): "
                     f"{s['generator_bound_windows']}")
    if s.get("interrupted"):
        lines.append("run stopped early; figures cover what was measured")
    return "\n".join(lines)
