"""Schedules from flags (``--stage 10:200``, ``--stage 30:200-1000``) or from a JSON/YAML file.

A file holds ``{"arrival": "poisson", "stages": [{"duration": 10, "rate": 200},
{"duration": 30, "rate": 200, "to": 1000}]}``; ``arrival`` is optional (the flag's value
otherwise), each stage a step (``rate``) or a ramp (``rate`` to ``to``).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from client.loadgen.schedule import ARRIVALS, ScheduleError, Stage


def parse_stage(text: str) -> Stage:
    """``DURATION:RATE`` (a step) or ``DURATION:RATE-RATE`` (a ramp), seconds and requests/s."""
    try:
        duration, rates = text.split(":", 1)
        first, _, last = rates.partition("-")
        return Stage(float(duration.rstrip("s")), float(first), float(last) if last else None)
    except ValueError as exc:
        if isinstance(exc, ScheduleError):
            raise
        raise ScheduleError(f"stage {text!r} is not DURATION:RATE or DURATION:RATE-RATE (e.g. 10:200, 30:200-1000)") from None


def load_plan_file(path: str) -> tuple[str | None, list[Stage]]:
    """(arrival or None, stages) from a schedule file; ScheduleError names what is wrong."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ScheduleError(f"cannot read schedule file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise ScheduleError(f"schedule file {path} is not valid JSON or YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list) or not data["stages"]:
        raise ScheduleError(f"schedule file {path}: needs an object with a non-empty list 'stages'")
    arrival = data.get("arrival")
    if arrival is not None and arrival not in ARRIVALS:
        raise ScheduleError(f"schedule file {path}: arrival must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    unknown = set(data) - {"arrival", "stages"}
    if unknown:
        raise ScheduleError(f"schedule file {path}: unknown keys {sorted(unknown)}")
    stages = []
    for i, raw in enumerate(data["stages"]):
        where = f"schedule file {path}: stages[{i}]"
        if not isinstance(raw, dict) or set(raw) - {"duration", "rate", "to"} or not {"duration", "rate"} <= set(raw):
            raise ScheduleError(f"{where}: needs 'duration' and 'rate' (and optionally 'to'), got {json.dumps(raw)}")
        try:
            stages.append(Stage(float(raw["duration"]), float(raw["rate"]),
                                None if raw.get("to") is None else float(raw["to"])))
        except (TypeError, ValueError) as exc:
            raise ScheduleError(f"{where}: {exc}") from None
    return arrival, stages
