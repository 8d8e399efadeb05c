"""``trainyard loadgen``: open-loop HTTP load, or MLPerf LoadGen's Server scenario, against a URL."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from client.loadgen.output import JsonLines, LiveTable, PlainLines, summary_text
from client.loadgen.plan_file import load_plan_file, parse_stage
from client.loadgen.schedule import ARRIVALS, ScheduleError, Stage
from client.loadgen.template import TemplateError
from client.loadgen.target import Target, TargetError, kserve_target, new_task_target

EXAMPLES = """
\b
Examples:
  # 500 req/s for 60 s, evenly spaced, live table, HTML report
  trainyard loadgen http://127.0.0.1:8000/ping --rate 500 --duration 60 --html report.html
  # Poisson arrivals, one JSON object per second and a summary line last
  trainyard loadgen http://host/api --rate 200 --schedule poisson --json > run.jsonl
  # steps and a ramp: 10 s at 100, then 100 -> 1000 over 30 s
  trainyard loadgen http://host/api --stage 10:100 --stage 30:100-1000
  # a POST with a body that changes per request
  trainyard loadgen http://host/api -X POST -H 'Content-Type: application/json' \\
      --body-template '{"id": "{{uuid}}", "x": {{float:0:1}}}'
  # a served model's KServe v2 infer endpoint, random input of shape 1x90x90
  trainyard loadgen http://127.0.0.1:8080 --kserve mymodel --kserve-input input:FP32:1x90x90
  # change the rate while it runs (the run prints its control port)
  trainyard loadgen http://host/api --rate 100 --duration 300 --control-port 7070 &
  curl -X POST 127.0.0.1:7070/rate -d '{"rate": 400}'; curl -X POST 127.0.0.1:7070/stop
  # MLPerf LoadGen, Server scenario: Poisson at 200 QPS, p99 bound 50 ms
  trainyard loadgen http://host/api --mlperf --rate 200 --mlperf-latency-ms 50 --duration 60

\b
Body template placeholders: {{seq}} {{uuid}} {{int:LO:HI}} {{float:LO:HI}} {{floats:N[:LO:HI]}}
{{choice:a,b,c}} {{hex:N}}.
"""

EXIT_INTERRUPTED = 130
EXIT_MLPERF_INVALID = 3
SENDER_RATE = 1000  # req/s one sender process holds comfortably (see bench/bench_loadgen.py)


def _text_or_file(value: str | None) -> str | None:
    if value is not None and value.startswith("@"):
        try:
            return Path(value[1:]).read_text()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {value[1:]}: {exc.strerror}") from None
    return value


def _headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    out = []
    for h in values:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise click.BadParameter(f"{h!r} is not 'Name: value'", param_hint="--header")
        out.append((name.strip(), value.strip()))
    return tuple(out)


def _stages(rate: float, duration: float, stage: tuple[str, ...], schedule_file: str | None,
            arrival: str) -> tuple[str, list[Stage]]:
    try:
        if schedule_file:
            file_arrival, stages = load_plan_file(schedule_file)
            return file_arrival or arrival, stages
        if stage:
            return arrival, [parse_stage(s) for s in stage]
        return arrival, [Stage(duration, rate)]
    except ScheduleError as exc:
        raise click.UsageError(str(exc)) from None


def _target(url, method, header, body, body_template, timeout, seed, kserve, kserve_input, new_task) -> Target:
    headers = _headers(header)
    kw = dict(timeout=timeout, seed=seed)
    try:
        if kserve:
            if not kserve_input:
                raise click.UsageError("--kserve needs --kserve-input NAME:DATATYPE:SHAPE, e.g. input:FP32:1x90x90")
            name, datatype, shape = _kserve_input(kserve_input)
            return kserve_target(url, kserve, name, shape, datatype, **kw)
        if new_task:
            try:
                form = json.loads(Path(new_task).read_text())
            except (OSError, ValueError) as exc:
                raise click.BadParameter(f"cannot read a JSON task form from {new_task}: {exc}",
                                         param_hint="--new-task") from None
            return new_task_target(url, form, **kw)
        if body is not None and body_template is not None:
            raise click.UsageError("give --body or --body-template, not both")
        return Target(url=url, method=method.upper(), headers=headers,
                      body=None if body is None else body.encode(), template=body_template, **kw)
    except (TargetError, TemplateError) as exc:
        raise click.UsageError(str(exc)) from None


def _kserve_input(text: str) -> tuple[str, str, list[int]]:
    try:
        name, datatype, shape = text.split(":")
        return name, datatype.upper(), [int(d) for d in shape.lower().split("x")]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not NAME:DATATYPE:SHAPE (e.g. input:FP32:1x90x90)",
                                 param_hint="--kserve-input") from None


@click.command(epilog=EXAMPLES)
@click.argument("url")
@click.option("--rate", type=float, default=10.0, show_default=True, help="Requests per second (mean, for Poisson).")
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds to run (ignored with --stage/--schedule-file).")
@click.option("--schedule", "arrival", type=click.Choice(ARRIVALS), default="constant", show_default=True,
              help="Arrival process: evenly spaced, Poisson, or a burst at the start of each second.")
@click.option("--stage", multiple=True, metavar="SECONDS:RATE[-RATE]", help="A step (10:200) or a ramp (30:200-1000); repeat for a plan.")
@click.option("--schedule-file", type=click.Path(dir_okay=False), help="A JSON/YAML plan: {arrival, stages: [{duration, rate, to}]}.")
@click.option("-X", "--method", default="GET", show_default=True)
@click.option("-H", "--header", multiple=True, metavar="'NAME: VALUE'", help="A request header; repeatable.")
@click.option("--body", help="Request body (or @FILE).")
@click.option("--body-template", help="Request body with per-request random fields (or @FILE); see below.")
@click.option("--kserve", metavar="MODEL", help="Shortcut: POST URL/v2/models/MODEL/infer (KServe v2) with random input.")
@click.option("--kserve-input", metavar="NAME:DATATYPE:SHAPE", help="The --kserve input, e.g. input:FP32:1x90x90.")
@click.option("--new-task", type=click.Path(dir_okay=False), metavar="FORM.json",
              help="Shortcut: POST URL/api/v0/new_task with this form, task_name made unique per request.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds before a request counts as a timeout.")
@click.option("--senders", type=int, default=0, help=f"Sender processes (0: one per {SENDER_RATE} req/s of the peak rate).")
@click.option("--max-inflight", type=int, default=10_000, show_default=True, help="Outstanding requests at most; later sends wait (and count as late).")
@click.option("--late-ms", type=float, default=5.0, show_default=True, help="A send later than this counts as late (generator-bound).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the Poisson schedule and random fields.")
@click.option("--control-port", type=int, default=None, help="Serve the control API (start/rate/stop) on 127.0.0.1:PORT; 0 picks one.")
@click.option("--wait-start", is_flag=True, help="Wait for POST /start on the control API before sending.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per window and a summary object last.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write a self-contained HTML report here.")
@click.option("--no-check", is_flag=True, help="Skip the check that something accepts connections at URL.")
@click.option("--mlperf", is_flag=True, help="Drive the target through MLPerf LoadGen's Server scenario (Poisson at --rate).")
@click.option("--mlperf-latency-ms", type=float, default=100.0, show_default=True, help="LoadGen's latency bound at the percentile.")
@click.option("--mlperf-percentile", type=float, default=0.99, show_default=True)
@click.option("--mlperf-min-queries", type=int, default=100, show_default=True)
@click.option("--mlperf-find-peak", is_flag=True, help="LoadGen's peak-finding mode (FindPeakPerformance).")
@click.option("--mlperf-log-dir", default="mlperf-logs", show_default=True, help="Where LoadGen's summary and detail logs go.")
def loadgen(url, rate, duration, arrival, stage, schedule_file, method, header, body, body_template, kserve,
            kserve_input, new_task, timeout, senders, max_inflight, late_ms, seed, control_port, wait_start,
            as_json, html_path, no_check, mlperf, mlperf_latency_ms, mlperf_percentile, mlperf_min_queries,
            mlperf_find_peak, mlperf_log_dir):
    """Send open-loop HTTP load to URL and report, per second, offered RPS, achieved send rate,
    completed QPS, success ratio, errors, and latency percentiles measured from each request's
    intended send time (HdrHistogram), so a stalled server cannot hide (no coordinated omission)."""
    for name, value in (("--rate", rate), ("--duration", duration), ("--timeout", timeout), ("--late-ms", late_ms)):
        if not (value >= 0 and math.isfinite(value)) or (name != "--rate" and value == 0):
            raise click.BadParameter(f"must be a {'number >= 0' if name == '--rate' else 'positive number'}, got {value}",
                                     param_hint=name)
    if senders < 0 or max_inflight < 1:
        raise click.UsageError("--senders must be >= 0 and --max-inflight >= 1")
    arrival, stages = _stages(rate, duration, stage, schedule_file, arrival)
    target = _target(url, method, header, _text_or_file(body), _text_or_file(body_template), timeout, seed,
                     kserve, kserve_input, new_task)
    if not no_check:
        try:
            target.check_reachable()
        except TargetError as exc:
            raise click.ClickException(f"{exc}; is the server running? (--no-check skips this check)") from None
    meta = {"url": target.url, "method": target.method,
            "schedule": {"arrival": arrival, "stages": [s.__dict__ for s in stages]}, "late_ms": late_ms}
    if mlperf:
        _mlperf(target, rate, duration, mlperf_latency_ms, mlperf_percentile, mlperf_min_queries, mlperf_find_peak,
                mlperf_log_dir, seed, as_json, html_path, meta)
        return
    _open_loop(target, arrival, stages, seed, max_inflight, senders, late_ms, control_port, wait_start, as_json,
               html_path, meta)


def _open_loop(target, arrival, stages, seed, max_inflight, senders, late_ms, control_port, wait_start, as_json,
               html_path, meta) -> None:
    from client.loadgen.runner import RunConfig, run
    from client.loadgen.sender import Plan

    err = Console(stderr=True)
    peak = max(max(s.rate, s.rate_end or 0) for s in stages)
    senders = senders or max(1, min(os.cpu_count() or 1, math.ceil(peak / SENDER_RATE)))
    cfg = RunConfig(target, Plan(tuple(stages), arrival, seed, max_inflight), senders=senders,
                    late_threshold=late_ms / 1000, control_port=control_port, wait_start=wait_start,
                    on_control=lambda port: err.print(f"control API on http://127.0.0.1:{port} "
                                                      "(GET /status, POST /start, /rate, /stop)"))
    if as_json:
        cfg.on_window.append(JsonLines(sys.stdout))
    live = None
    if err.is_terminal:
        live = LiveTable(err, f"{target.method} {target.url}")
        cfg.on_window.append(live)
    elif not as_json:
        cfg.on_window.append(PlainLines(sys.stderr))
    if live:
        with live:
            result = run(cfg)
    else:
        result = run(cfg)
    summary = result.summary
    summary["rate_changes"] = [{"at_s": round(at, 3), "rate": r} for at, r in result.rate_changes]
    if as_json:
        print(json.dumps(summary), flush=True)
    else:
        click.echo(summary_text(summary))
    if html_path:
        _write_html(html_path, result.windows, summary, meta)
    if summary["interrupted"] and result.interrupted:
        sys.exit(EXIT_INTERRUPTED)


def _write_html(path: str, windows, summary, meta, mlperf=None) -> None:
    from client.loadgen.report import render

    Path(path).write_text(render(windows, summary, meta, mlperf))
    click.echo(f"report: {path}", err=True)


def _mlperf(target, rate, duration, latency_ms, percentile, min_queries, find_peak, log_dir, seed, as_json,
            html_path, meta) -> None:
    try:
        from client.loadgen.mlperf import MlperfConfig, run_mlperf
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        raise click.ClickException("MLPerf mode needs the mlcommons-loadgen package: pip install 'trainyard[mlperf]'") from None
    if rate <= 0 or not 0 < percentile < 1:
        raise click.UsageError("--mlperf needs --rate > 0 and 0 < --mlperf-percentile < 1")
    cfg = MlperfConfig(target_qps=rate, latency_ms=latency_ms, percentile=percentile, min_duration_s=duration,
                       min_queries=min_queries, find_peak=find_peak, log_dir=log_dir, seed=seed or None)
    result = run_mlperf(target, cfg)
    if as_json:
        print(json.dumps({"mlperf": True, **result}), flush=True)
    else:
        click.echo(f"MLPerf LoadGen ({result.get('scenario')}): {result['verdict']}")
        for why in result["reasons"]:
            click.echo(f"  because {why}")
        for line in result["early_stopping"]:
            click.echo(f"  early stopping: {line}")
        click.echo(f"  completed QPS {result.get('completed_qps')} (scheduled {result.get('scheduled_qps')}); "
                   f"p99 {result.get('p99_latency_ms')} ms (LoadGen) / {result.get('ours_p99_ms')} ms (ours); "
                   f"failed requests {result['ours_failed']}")
        click.echo(f"  logs: {result['summary_log']}, {result['detail_log']}")
    if html_path:
        _write_html(html_path, [], {"summary": True}, meta, mlperf=result)
    if result["verdict"] != "VALID":
        sys.exit(EXIT_MLPERF_INVALID)


@click.command("reference-server")
@click.option("--port", type=int, required=True)
@click.option("--delay-ms", type=float, default=20.0, show_default=True)
@click.option("--jitter-ms", type=float, default=2.0, show_default=True, help="Delays are uniform in delay ± jitter.")
@click.option("--stall-at", type=float, default=None, help="Stall once, this many seconds after the first request.")
@click.option("--stall-seconds", type=float, default=1.0, show_default=True)
def reference_server(port, delay_ms, jitter_ms, stall_at, stall_seconds):
    """A local HTTP server with known latency, to check what a load generator reports.

    \b
    Example:
      trainyard reference-server --port 8099 --delay-ms 20 --jitter-ms 2 --stall-at 10 &
      trainyard loadgen http://127.0.0.1:8099/ --rate 1000 --duration 20
    """
    if not 0 <= jitter_ms <= delay_ms:
        raise click.BadParameter("must be between 0 and --delay-ms", param_hint="--jitter-ms")
    from client.loadgen.reference_server import serve

    serve(port, delay=delay_ms / 1000, jitter=jitter_ms / 1000, stall_at=stall_at, stall_seconds=stall_seconds)
