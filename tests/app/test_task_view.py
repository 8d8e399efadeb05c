"""The ETA of the task view: the observed wall time per epoch over recent epochs (evaluation and
checkpoints included, as they happened), not the last epoch's training seconds."""

from __future__ import annotations

import datetime as dt

from app.schemas.task_view import progress, seconds_per_epoch
from dao.tables import Task, TaskEpoch

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def task(**kw) -> Task:
    base = dict(id="T1", status="RUNNING", epochs_total=10, epochs_done=4, started_at=T0, attempt=1)
    return Task(**(base | kw))


def epochs(ends: list[float], first: int = 1, attempt: int = 1, train_seconds: float = 1.0) -> list[TaskEpoch]:
    """Epoch rows ending ``ends`` seconds after T0, newest first; each says it trained 1 s."""
    rows = [TaskEpoch(task_id="T1", epoch=first + i, attempt=attempt, created_at=T0 + dt.timedelta(seconds=s),
                      metrics={"epoch": first + i, "seconds": train_seconds}) for i, s in enumerate(ends)]
    return rows[::-1]


def test_the_rate_is_observed_over_recent_epochs_evaluation_included():
    recent = epochs([10, 14, 18, 22])  # 4 s an epoch of wall time, though training took 1 s
    assert seconds_per_epoch(task(), recent) == 4.0
    p = progress(task(), recent)
    assert p.eta_seconds == 24.0  # 6 epochs left × 4 s
    assert p.eta_at == (T0 + dt.timedelta(seconds=22 + 24)).isoformat()


def test_one_epoch_is_timed_from_the_start():
    assert seconds_per_epoch(task(epochs_done=1), epochs([7])) == 7.0


def test_only_the_current_attempt_counts():
    recent = epochs([100, 103], first=3, attempt=2) + epochs([10, 50], first=1, attempt=1)
    assert seconds_per_epoch(task(attempt=2), recent) == 3.0


def test_no_eta_unless_running():
    assert progress(task(status="SUCCEEDED"), epochs([1, 2])).eta_seconds is None
    assert progress(task(status="RUNNING", epochs_done=0), []).eta_seconds is None
