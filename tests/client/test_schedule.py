"""Arrival schedules: the right count at the right times, computed without sending anything."""

import pytest

from client.loadgen.plan_file import load_plan_file, parse_stage
from client.loadgen.schedule import Rates, ScheduleError, Stage, send_times


def test_constant_sends_evenly_spaced_exact_count():
    times = list(send_times(Rates([Stage(3, 200)]), "constant"))
    assert len(times) == 600
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:])}
    assert gaps == {0.005}
    assert times[0] == pytest.approx(0.0025)


def test_poisson_is_seeded_and_has_the_mean_rate():
    a = list(send_times(Rates([Stage(20, 500)]), "poisson", seed=7))
    b = list(send_times(Rates([Stage(20, 500)]), "poisson", seed=7))
    c = list(send_times(Rates([Stage(20, 500)]), "poisson", seed=8))
    assert a == b and a != c
    # 10,000 expected; a Poisson count has sd 100, so 4 sd either side
    assert 9600 < len(a) < 10400
    gaps = sorted(y - x for x, y in zip(a, a[1:]))
    assert gaps[len(gaps) // 2] == pytest.approx(0.002 * 0.6931, rel=0.1)  # median of Exp(500)


def test_burst_sends_each_seconds_share_at_its_start():
    times = list(send_times(Rates([Stage(3, 2.5), Stage(2, 4)]), "burst"))
    counts = {t: times.count(t) for t in set(times)}
    assert counts == {0.0: 2, 1.0: 3, 2.0: 2, 3.0: 4, 4.0: 4}  # 2.5/s carries its halves over


def test_steps_and_ramps_follow_the_integrated_rate():
    rates = Rates([Stage(2, 10), Stage(1, 0), Stage(2, 0, 100)])
    times = list(send_times(rates, "constant"))
    assert sum(t < 2 for t in times) == 20
    assert not any(2 <= t < 3 for t in times)
    ramp = [t - 3 for t in times if t >= 3]
    assert len(ramp) == 100  # the ramp's area: 2 s * 100/2
    assert sum(t < 1 for t in ramp) == 25  # a quarter of the area lies in its first half


def test_an_override_replaces_the_plan_from_its_time_on():
    rates = Rates([Stage(10, 1)])
    rates.override(4.0, 100)
    times = list(send_times(rates, "constant", end=5))
    assert sum(t < 4 for t in times) == 4
    assert sum(4 <= t < 5 for t in times) == 100


@pytest.mark.parametrize("bad", [lambda: Stage(0, 10), lambda: Stage(5, -1), lambda: Stage(5, 1, float("nan")),
                                 lambda: Rates([]), lambda: list(send_times(Rates([Stage(1, 1)]), "zipf"))])
def test_bad_schedules_are_refused(bad):
    with pytest.raises(ScheduleError):
        bad()


def test_stage_flags_and_files(tmp_path):
    assert parse_stage("10:200") == Stage(10, 200)
    assert parse_stage("30s:200-1000") == Stage(30, 200, 1000)
    with pytest.raises(ScheduleError, match="DURATION:RATE"):
        parse_stage("fast")
    good = tmp_path / "plan.yaml"
    good.write_text("arrival: poisson\nstages:\n  - {duration: 5, rate: 10}\n  - {duration: 5, rate: 10, to: 50}\n")
    assert load_plan_file(str(good)) == ("poisson", [Stage(5, 10), Stage(5, 10, 50)])
    for text, problem in [("stages: []", "non-empty"), ("stages: [{rate: 5}]", r"stages\[0\]"),
                          ("{arrival: zipf, stages: [{duration: 1, rate: 1}]}", "arrival"),
                          ("stages: [{duration: 1, rate: -3}]", "rate"), ("stages: [1", "not valid")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ScheduleError, match=problem):
            load_plan_file(str(bad))
