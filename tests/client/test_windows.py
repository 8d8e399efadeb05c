"""Windows, SR and percentiles computed from recorded samples (no network)."""

import math
import random

import pytest

from client.loadgen.windows import Windows, flag_windows


def nearest_rank(values, q):
    ranked = sorted(values)
    return ranked[max(0, math.ceil(len(ranked) * q / 100) - 1)]


def test_each_window_has_its_own_percentiles_from_intended_time():
    rng = random.Random(1)
    samples, truth = [], {0: [], 1: []}
    for i in range(2000):
        intended = i / 1000  # 1000/s for 2 s
        sent = intended + 0.0001
        latency = rng.uniform(0.018, 0.022) if intended < 1 else rng.uniform(0.1, 0.3)
        samples.append((intended, sent, intended + latency, 200, ""))
        truth[int(intended)].append(latency * 1000)
    w = Windows()
    w.add(samples)
    got = w.finish_all()
    assert [x["offered_rps"] for x in got[:2]] == [1000, 1000]
    for window in got[:2]:
        values = truth[window["window"]]
        for key, q in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99), ("p999_ms", 99.9)):
            assert window[key] == pytest.approx(nearest_rank(values, q), rel=2e-3)  # HdrHistogram: 3 digits
        assert window["max_ms"] == pytest.approx(max(values), rel=2e-3)
    # the run's percentile comes from all samples, not from an average of the windows' p99s
    summary = w.summary(2.0)
    assert summary["p99_ms"] == pytest.approx(nearest_rank(truth[0] + truth[1], 99), rel=2e-3)
    assert summary["p50_ms"] == pytest.approx(nearest_rank(truth[0] + truth[1], 50), rel=2e-3)


def test_sr_errors_and_qps_by_completion_time():
    samples = (
        [(0.1, 0.1, 0.2, 200, "")] * 6
        + [(0.2, 0.2, 0.3, 503, "")] * 2
        + [(0.3, 0.3, 1.3, 0, "timeout")]
        + [(0.4, 0.4, 0.4, 0, "refused")]
        + [(0.5, 0.5, 1.5, 200, "")] * 3  # answered in the next window
        + [(0.6, None, 2.6, 0, "unfinished")]
    )
    w = Windows()
    w.add(samples)
    first, second = w.finish_all()
    assert first["offered_rps"] == 14
    assert first["sent_rps"] == 13  # the unfinished one never went out
    assert first["sr"] == pytest.approx(9 / 14)
    assert first["qps"] == 6 and second["qps"] == 3
    assert first["errors_by_status"] == {"503": 2}
    assert first["errors_by_kind"] == {"timeout": 1, "refused": 1, "unfinished": 1}
    assert first["errors"] == 5
    assert second["offered_rps"] == 0 and second["sr"] is None
    total = w.summary(2.0)
    assert (total["offered"], total["ok"], total["errors"]) == (14, 9, 5)
    assert total["offered"] == total["ok"] + total["errors"]  # nothing dropped


def test_late_sends_and_lag():
    samples = [(i / 100, i / 100 + (0.02 if i % 10 == 0 else 0.001), i / 100 + 0.05, 200, "") for i in range(100)]
    w = Windows(late_threshold=0.005)
    w.add(samples)
    window = w.finish_all()[0]  # the last answers land in the next window
    assert window["late"] == 10
    assert window["lag_max_ms"] == pytest.approx(20, rel=2e-3)
    assert flag_windows([window], 0.005)["generator_bound"] == [0]


def test_windows_close_only_behind_the_watermark():
    w = Windows()
    w.add([(0.5, 0.5, 0.6, 200, ""), (1.5, 1.5, 1.6, 200, ""), (2.2, 2.2, 2.3, 200, "")])
    assert [x["window"] for x in w.finish_until(1.4)] == [0]
    assert w.finish_until(1.9) == []
    assert [x["window"] for x in w.finish_until(3.0)] == [1, 2]


def test_a_stall_marks_its_windows_slow():
    windows = [{"window": i, "p50_ms": 20.0, "p99_ms": 1000.0 if i in (4, 5) else 22.0, "sent_rps": 100, "late": 0}
               for i in range(10)]
    assert flag_windows(windows, 0.005) == {"slow": [4, 5], "generator_bound": []}
