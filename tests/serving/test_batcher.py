"""The batcher alone, on a numpy runner: each caller gets its own rows back, concurrent callers
share a batch, instances grow to max_worker under backlog, and a failing batch fails only its
callers."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import numpy as np
import pytest

from contracts.serving_settings import ServingSettings
from serving.batcher import ArrivalGaps, Batcher


def _runner_factory(log: list, gate: threading.Event | None = None):
    def make():
        def run(feeds):
            if gate is not None:
                gate.wait(10)
            x = feeds["x"]
            log.append(x.shape[0])
            if (x < 0).any():
                raise ValueError("negative input")
            return [x * 2.0 + 1.0]
        return run
    return make


def test_each_caller_gets_its_own_answer_from_a_shared_batch():
    log: list[int] = []
    b = Batcher(_runner_factory(log), ServingSettings(batch_size=8, max_batch_delay=5000), batchable=True)
    xs = [np.full((1, 3), float(i), np.float32) for i in range(8)]
    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda x: b.submit({"x": x}, timeout=20), xs))
    for x, a in zip(xs, answers):
        np.testing.assert_array_equal(a.outputs[0], x * 2.0 + 1.0)
        assert a.timing["rows"] == 8  # a full batch runs at once, without waiting out the delay
    assert log == [8]
    b.stop()


def test_unbatchable_models_run_one_request_at_a_time():
    log: list[int] = []
    b = Batcher(_runner_factory(log), ServingSettings(batch_size=8, max_batch_delay=50), batchable=False)
    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: b.submit({"x": np.ones((1, 2), np.float32)}, timeout=20), range(4)))
    assert log == [1, 1, 1, 1]
    b.stop()


def test_backlog_grows_instances_up_to_max_worker_and_resize_shrinks():
    gate = threading.Event()
    b = Batcher(_runner_factory([], gate), ServingSettings(batch_size=1, min_worker=1, max_worker=3), batchable=True)
    assert b.instances == 1
    with cf.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(b.submit, {"x": np.ones((1, 1), np.float32)}, 20) for _ in range(6)]
        deadline = threading.Event()
        for _ in range(1000):  # a loaded machine can take seconds to start the instance threads
            if b.instances == 3:
                break
            deadline.wait(0.02)
        assert b.instances == 3
        gate.set()
        [f.result() for f in futures]
    b.resize(ServingSettings(batch_size=1, min_worker=1, max_worker=1))
    for _ in range(1000):
        if b.instances == 1:
            break
        threading.Event().wait(0.02)
    assert b.instances == 1
    b.stop()


def test_a_failing_batch_fails_its_callers_and_the_instance_lives():
    b = Batcher(_runner_factory([]), ServingSettings(batch_size=1), batchable=True)
    with pytest.raises(ValueError, match="negative"):
        b.submit({"x": -np.ones((1, 1), np.float32)}, timeout=20)
    ok = b.submit({"x": np.ones((1, 1), np.float32)}, timeout=20)
    np.testing.assert_array_equal(ok.outputs[0], [[3.0]])
    b.stop()


def _an_hours_delay(**settings) -> ServingSettings:
    """max_batch_delay an hour (past the API's 10 s limit, set here without its check): a batch
    that waits out the delay shows as a submit timing out, never as a slow pass; the submit's
    timeout then only bounds a hang."""
    return ServingSettings(**settings).model_copy(update={"max_batch_delay": 3_600_000})


def test_a_lone_request_does_not_wait_out_the_delay_when_none_is_on_its_way():
    log: list[int] = []
    b = Batcher(_runner_factory(log), _an_hours_delay(batch_size=8), batchable=True, expecting=lambda: 0)
    answer = b.submit({"x": np.ones((1, 2), np.float32)}, timeout=60)
    assert answer.timing["rows"] == 1 and log == [1]
    b.stop()


def test_a_batch_waits_for_a_request_still_on_its_way_and_shares_with_it():
    log: list[int] = []
    on_the_way = [2]  # both callers have begun; each stops counting once it is queued
    b = Batcher(_runner_factory(log), ServingSettings(batch_size=8, max_batch_delay=10000), batchable=True,
                expecting=lambda: on_the_way[0])

    def caller(i: int):
        return b.submit({"x": np.full((1, 2), float(i), np.float32)}, timeout=20,
                        queued=lambda: on_the_way.__setitem__(0, on_the_way[0] - 1))

    with cf.ThreadPoolExecutor(2) as pool:
        first = pool.submit(caller, 0)
        # The second arrives only once an instance has taken the first (queued, queue empty)
        # and is filling its batch: it can share only if that batch waits for it.
        for _ in range(3000):  # bounds a hang only
            if on_the_way[0] == 1 and b.waiting == 0:
                break
            threading.Event().wait(0.01)
        assert on_the_way[0] == 1 and b.waiting == 0
        second = pool.submit(caller, 1)
        answers = [first.result(), second.result()]
    assert log == [2]
    for i, a in enumerate(answers):
        assert a.timing["rows"] == 2
        np.testing.assert_array_equal(a.outputs[0], np.full((1, 2), i * 2.0 + 1.0))
    b.stop()


def test_arrival_gaps_wait_only_while_requests_come_close_together():
    gaps = ArrivalGaps()
    assert gaps.likely_until(5.0) is None  # nothing seen yet
    gaps.note(100.0, cap=5.0)
    assert gaps.likely_until(5.0) is None  # one request: no gap to go by
    for t in (100.005, 100.010, 100.015):
        gaps.note(t, cap=5.0)
    assert gaps.likely_until(5.0) == pytest.approx(100.015 + 2 * 0.005)
    for t in (110.0, 120.0, 130.0, 140.0, 150.0):  # a quiet model: each gap counts as the delay
        gaps.note(t, cap=5.0)
    assert gaps.likely_until(5.0) is None


def test_requests_arriving_close_together_share_batches_and_a_lone_one_still_runs_at_once():
    """Nothing counts as on its way here (expecting is 0), as when each request is read and
    queued before the next one begins: the recent arrival gaps still let callers share batches,
    and a request after the burst waits a couple of those gaps, not the delay (an hour)."""
    log: list[int] = []
    b = Batcher(_runner_factory(log), _an_hours_delay(batch_size=4), batchable=True, expecting=lambda: 0)

    def caller(i: int):
        threading.Event().wait(0.05 * i)
        return b.submit({"x": np.full((1, 2), float(i), np.float32)}, timeout=60)

    with cf.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(caller, range(8)))
    for i, a in enumerate(answers):
        np.testing.assert_array_equal(a.outputs[0], np.full((1, 2), i * 2.0 + 1.0))
    assert sum(log) == 8 and max(log) > 1, log
    lone = b.submit({"x": np.ones((1, 2), np.float32)}, timeout=60)  # the hour's delay would time it out
    assert lone.timing["rows"] == 1 and log[-1] == 1
    b.stop()
