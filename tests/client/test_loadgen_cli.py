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
    arrivals = srv.stats()["arrivals"]
    assert len(arrivals) == 100 == summary["sent"] == summary["ok"], summary
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:]))
    assert gaps[len(gaps) // 2] == pytest.approx(0.02, abs=0.004)  # 50/s, seen by the server
    assert arrivals[-1] - arrivals[0] == pytest.approx(1.98, abs=0.1)
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
    arrivals = sorted(srv.stats()["arrivals"])
    assert len(arrivals) == 150
    t0 = arrivals[0]
    seconds = [round(a - t0) for a in arrivals]  # every arrival lies near a whole second from the first
    assert {s: seconds.count(s) for s in set(seconds)} == {0: 30, 1: 60, 2: 60}
    assert max(abs(a - t0 - round(a - t0)) for a in arrivals) < 0.3


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
        time.sleep(0.3)
        assert srv.stats()["count"] == 0  # nothing before POST /start
        urllib.request.urlopen(urllib.request.Request(f"{base}/start", data=b"", method="POST"), timeout=5)
        _wait_status(base, "running")
        time.sleep(1.5)
        before = srv.stats()["count"]
        bad = urllib.request.Request(f"{base}/rate", data=b'{"rate": -4}', method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bad, timeout=5)
        assert err.value.code == 422
        urllib.request.urlopen(urllib.request.Request(f"{base}/rate", data=b'{"rate": 200}', method="POST"), timeout=5)
        time.sleep(2.0)
        after = srv.stats()["count"]
        urllib.request.urlopen(urllib.request.Request(f"{base}/stop", data=b"", method="POST"), timeout=5)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    _, summary = json_lines(stdout)
    assert [c["rate"] for c in summary["rate_changes"]] == [200.0]
    # 2 s at 200/s after the change (less the 0.2 s it takes to apply), against 20/s before
    assert after - before > 250
    assert summary["interrupted"] is True
    _sends_match_the_server(summary, srv.stats()["count"])


def _sends_match_the_server(summary: dict, count: int) -> None:
    """Every send reached the server, except those cut off by the stop while on their way."""
    unfinished = summary["errors_by_kind"].get("unfinished", 0)
    assert summary["sent"] - unfinished <= count <= summary["sent"]
    assert summary["offered"] == summary["ok"] + summary["errors"]


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
        time.sleep(1.5)
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
