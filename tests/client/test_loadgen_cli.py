"""`trainyard loadgen` against a real local server: counts, rates, errors, control, Ctrl-C, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.client.conftest import TRAINYARD, free_port, json_lines, trainyard


def test_constant_schedule_sends_the_right_count_at_the_right_times(ref_server):
    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    out = trainyard("loadgen", f"{srv.url}/x", "--rate", "50", "--duration", "2", "--json")
    assert out.returncode == 0, out.stderr
    windows, summary = json_lines(out.stdout)
    from client.loadgen.schedule import Rates, Stage, send_times

    arrivals = srv.stats()["arrivals"]
    assert len(arrivals) == 100 == summary["sent"] == summary["ok"], summary
    # What it sends when: evenly 20 ms apart over the 2 s, each mid-slot (how close the sends keep to it is
    # measured by bench/bench_loadgen.py, not judged here).
    assert list(send_times(Rates([Stage(2, 50)]), "constant")) == pytest.approx([(i + 0.5) * 0.02 for i in range(100)])
    assert all(b > a for a, b in zip(arrivals, arrivals[1:]))  # one by one, none at once
    assert [w["offered_rps"] for w in windows[:2]] == [50, 50]
    assert all(w["sr"] == 1.0 for w in windows[:2])


def test_poisson_sends_what_its_seeded_schedule_says(ref_server):
    from client.loadgen.schedule import Rates, Stage, send_times

    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    out = trainyard("loadgen", srv.url, "--rate", "80", "--duration", "2", "--schedule", "poisson", "--seed", "3", "--json")
    assert out.returncode == 0, out.stderr
    expected = len(list(send_times(Rates([Stage(2, 80)]), "poisson", seed=3)))
    assert srv.stats()["count"] == expected == json_lines(out.stdout)[1]["sent"]


def test_burst_schedule_sends_at_the_start_of_each_second(ref_server, tmp_path):
    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"arrival": "burst", "stages": [{"duration": 1, "rate": 30}, {"duration": 2, "rate": 60}]}))
    out = trainyard("loadgen", srv.url, "--schedule-file", str(plan), "--json")
    assert out.returncode == 0, out.stderr
    windows, summary = json_lines(out.stdout)
    assert [w["offered_rps"] for w in windows] == [30, 60, 60]
    arrivals = sorted(srv.stats()["arrivals"])
    assert len(arrivals) == 150 == summary["sent"]
    # Three bursts as the server saw them: the two widest gaps between arrivals split them 30, 60, 60.
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    widest = sorted(sorted(range(len(gaps)), key=gaps.__getitem__)[-2:])
    assert [i + 1 for i in widest] == [30, 90], widest


def test_errors_and_timeouts_are_counted_never_dropped(ref_server):
    srv = ref_server("--delay-ms", "300", "--jitter-ms", "0")
    status = trainyard("loadgen", f"{srv.url}/status/503", "--rate", "20", "--duration", "1", "--timeout", "2", "--json")
    _, s = json_lines(status.stdout)
    assert s["errors_by_status"] == {"503": 20} and s["ok"] == 0 and s["sr"] == 0
    slow = trainyard("loadgen", srv.url, "--rate", "20", "--duration", "1", "--timeout", "0.1", "--json")
    _, s = json_lines(slow.stdout)
    assert s["errors_by_kind"] == {"timeout": 20} and s["offered"] == 20
    refused = trainyard("loadgen", f"http://127.0.0.1:{free_port()}/", "--rate", "20", "--duration", "1",
                        "--no-check", "--json")
    _, s = json_lines(refused.stdout)
    assert s["errors_by_kind"] == {"refused": 20}


def test_control_api_starts_changes_the_rate_and_stops(ref_server):
    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    port = free_port()
    proc = subprocess.Popen([TRAINYARD, "loadgen", srv.url, "--rate", "20", "--duration", "60", "--json",
                             "--control-port", str(port), "--wait-start"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_status(base, "waiting")
        assert srv.stats()["count"] == 0  # nothing before POST /start
        start_posted = time.monotonic()  # the server's arrival times are this machine's monotonic clock
        urllib.request.urlopen(urllib.request.Request(f"{base}/start", data=b"", method="POST"), timeout=5)
        _wait_status(base, "running")
        _wait_count(srv, 20)  # under way at 20/s
        bad = urllib.request.Request(f"{base}/rate", data=b'{"rate": -4}', method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 422
        before = srv.stats()["count"]
        urllib.request.urlopen(urllib.request.Request(f"{base}/rate", data=b'{"rate": 200}', method="POST"), timeout=5)
        # 450 more: over 2 s at 200/s, so a whole 1 s window lies after the change (at 20/s it
        # would take 22 s, still inside the deadline: the windows below tell the rates apart).
        _wait_count(srv, before + 450)
        urllib.request.urlopen(urllib.request.Request(f"{base}/stop", data=b"", method="POST"), timeout=5)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    windows, summary = json_lines(stdout)
    assert [c["rate"] for c in summary["rate_changes"]] == [200.0]
    assert min(srv.stats()["arrivals"]) > start_posted  # nothing before POST /start, all along
    # The schedule ran at 20/s, then at 200/s: windows wholly before and after the change.
    assert windows[0]["offered_rps"] == 20, windows[0]
    assert any(w["target_rps"] == 200 and w["offered_rps"] >= 199 for w in windows), \
        [(w["target_rps"], w["offered_rps"]) for w in windows]
    assert summary["interrupted"] is True
    _sends_match_the_server(summary, srv.stats()["count"])


def _sends_match_the_server(summary: dict, count: int) -> None:
    """Every send reached the server, except those cut off by the stop while on their way."""
    unfinished = summary["errors_by_kind"].get("unfinished", 0)
    assert summary["sent"] - unfinished <= count <= summary["sent"]
    assert summary["offered"] == summary["ok"] + summary["errors"]


def _wait_count(srv, count: int, timeout: float = 60) -> None:  # noqa: ANN001
    """Until the server has seen ``count`` requests; the deadline only bounds a hang."""
    deadline = time.monotonic() + timeout
    while (seen := srv.stats()["count"]) < count:
        assert time.monotonic() < deadline, f"the server saw {seen} requests, waiting for {count}"
        time.sleep(0.05)


def _wait_status(base: str, state: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/status", timeout=2) as resp:
                if json.load(resp)["state"] == state:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"control API never said {state}")


def test_ctrl_c_still_writes_what_it_measured(ref_server, tmp_path):
    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    report = tmp_path / "r.html"
    port = free_port()
    proc = subprocess.Popen([TRAINYARD, "loadgen", srv.url, "--rate", "50", "--duration", "60", "--json",
                             "--html", str(report), "--control-port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_status(f"http://127.0.0.1:{port}", "running")
        _wait_count(srv, 60)  # more than a second's worth at 50/s: a whole window measured
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    windows, summary = json_lines(stdout)
    assert summary["interrupted"] and summary["sent"] > 0 and windows
    _sends_match_the_server(summary, srv.stats()["count"])
    assert "<svg" in report.read_text()


@pytest.mark.parametrize("args, message", [
    (["--rate", "-5"], "--rate"),
    (["--duration", "0"], "--duration"),
    (["--stage", "ten:20"], "DURATION:RATE"),
    (["--body-template", "{{nope}}"], "bad placeholder"),
    (["-H", "no colon"], "Name: value"),
])
def test_bad_arguments_get_a_clear_message(args, message):
    out = trainyard("loadgen", "http://127.0.0.1:9/", *args)  # refused before any connection
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_unreachable_url_and_bad_schedule_file(tmp_path):
    out = trainyard("loadgen", f"http://127.0.0.1:{free_port()}/")
    assert out.returncode == 1 and "cannot reach" in out.stderr and "Traceback" not in out.stderr
    plan = tmp_path / "plan.yaml"
    plan.write_text("stages: [{duration: 5}]")
    out = trainyard("loadgen", "http://127.0.0.1:9/", "--schedule-file", str(plan))
    assert out.returncode == 2 and "stages[0]" in out.stderr and "Traceback" not in out.stderr
