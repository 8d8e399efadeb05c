"""One open-loop run: sender processes, the control API, windows as they complete, the summary."""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_any
from typing import Callable

from client.loadgen.control import Control
from client.loadgen.schedule import Rates
from client.loadgen.sender import Plan, sender_main
from client.loadgen.target import Target
from client.loadgen.windows import Windows

RATE_CHANGE_DELAY = 0.2  # s: every sender must hear of a change before it applies


@dataclass
class RunConfig:
    target: Target
    plan: Plan
    senders: int = 1
    late_threshold: float = 0.005
    control_port: int | None = None  # None: no control API; 0: any free port
    wait_start: bool = False
    on_window: list[Callable[[dict], None]] = field(default_factory=list)
    on_control: Callable[[int], None] | None = None  # told the control API's port


@dataclass
class RunResult:
    windows: list[dict]
    summary: dict
    interrupted: bool
    rate_changes: list[tuple[float, float]]


class _Run:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.rates = Rates(list(cfg.plan.stages))
        self.windows = Windows(cfg.late_threshold, self.rates.rate_at)
        self.interrupted = False
        self.stopping = False
        self.start = 0.0

    def _spawn(self):
        # fork, before the control thread starts: spawn would re-run the caller's __main__
        ctx = mp.get_context("fork")
        procs, conns = [], []
        for i in range(self.cfg.senders):
            ours, theirs = ctx.Pipe()
            p = ctx.Process(target=sender_main, args=(i, self.cfg.senders, self.cfg.plan, self.cfg.target, theirs),
                            daemon=True)
            p.start()
            theirs.close()
            procs.append(p)
            conns.append(ours)
        for c in conns:
            if not c.poll(60) or c.recv()[0] != "ready":
                raise RuntimeError("a sender process did not start")
        return procs, conns

    def _broadcast(self, conns, msg) -> None:
        for c in conns:
            try:
                c.send(msg)
            except (BrokenPipeError, OSError):
                pass

    def _stop(self, conns) -> None:
        if not self.stopping:
            self.stopping = True
            self._broadcast(conns, ("stop",))

    def _commands(self, control: Control | None, conns) -> bool:
        """Applies queued control commands; True once a start was asked for."""
        started = False
        while control is not None and not control.commands.empty():
            cmd = control.commands.get()
            if cmd[0] == "start":
                started = True
            elif cmd[0] == "stop":
                self._stop(conns)
            elif cmd[0] == "rate" and self.start:
                at = time.monotonic() - self.start + RATE_CHANGE_DELAY
                self.rates.override(at, cmd[1])
                self._broadcast(conns, ("rate", at, cmd[1]))
        return started

    def _wait_for_start(self, control: Control | None, conns) -> bool:
        while not self.interrupted:
            if self._commands(control, conns):
                return True
            if self.stopping:
                return False
            time.sleep(0.05)
        return False

    def _emit(self, windows: list[dict]) -> None:
        for w in windows:
            for fn in self.cfg.on_window:
                fn(w)

    def _collect(self, conns, control: Control | None) -> float:
        """Reads samples until every sender is done; returns their CPU seconds."""
        marks = {c: 0.0 for c in conns}
        cpu = 0.0
        live = set(conns)
        while live:
            if self.interrupted:
                self._stop(conns)
            self._commands(control, conns)
            for c in wait_any(list(live), timeout=0.05):
                try:
                    msg = c.recv()
                except (EOFError, OSError):
                    live.discard(c)
                    marks[c] = float("inf")
                    continue
                if msg[0] == "samples":
                    self.windows.add(msg[1])
                    marks[c] = msg[2]
                elif msg[0] == "done":
                    cpu += msg[1]
                    live.discard(c)
                    marks[c] = float("inf")
            self._emit(self.windows.finish_until(min(marks.values())))
            if control is not None:
                elapsed = time.monotonic() - self.start
                control.status.update(state="stopping" if self.stopping else "running",
                                      rate=self.rates.rate_at(elapsed), elapsed_s=round(elapsed, 3))
        return cpu

    def run(self) -> RunResult:
        procs, conns = self._spawn()
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        control = Control(self.cfg.control_port) if self.cfg.control_port is not None else None
        try:
            if control is not None:
                control.__enter__()
                if self.cfg.on_control:
                    self.cfg.on_control(control.port)
            if self.cfg.wait_start and not self._wait_for_start(control, conns):
                self._broadcast(conns, ("quit",))
                return RunResult([], self.windows.summary(0.0), self.interrupted, [])
            self.start = time.monotonic() + 0.2
            self._broadcast(conns, ("go", self.start))
            cpu = self._collect(conns, control)
            elapsed = time.monotonic() - self.start
            self._emit(self.windows.finish_all())
            own = resource.getrusage(resource.RUSAGE_SELF)
            summary = self.windows.summary(elapsed, cpu + own.ru_utime + own.ru_stime)
            summary["senders"] = self.cfg.senders
            sent = summary["sent"]
            summary["sender_cpu_us_per_request"] = round(cpu / sent * 1e6, 1) if sent else None
            summary["interrupted"] = self.interrupted or self.stopping
            return RunResult(self.windows.finished, summary, self.interrupted, list(self.rates.overrides))
        finally:
            signal.signal(signal.SIGINT, previous)
            if control is not None:
                control.__exit__(None, None, None)
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()

    def _on_sigint(self, signum, frame) -> None:
        if self.interrupted:  # a second Ctrl-C: leave now
            os._exit(130)
        self.interrupted = True


def run(cfg: RunConfig) -> RunResult:
    """Runs the plan against the target; Ctrl-C (or POST /stop) ends it early, measured as usual."""
    return _Run(cfg).run()
