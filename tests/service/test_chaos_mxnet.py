"""SIGKILL of an MXNet worker in the middle of a training loses nothing: a classifier's and a
detector's training resume from their checkpoint on another worker, which trains only the
epochs left. (Apart from test_chaos_jobs.py so that the two files run side by side.)"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.service.stack import MXNET_VENV, Stack, running_stack
from tests.service.test_chaos_jobs import _epochs, _worker

pytestmark = [pytest.mark.slow, pytest.mark.chaos]


def _killed_mid_training(mx: Stack, task_id: str, after_epoch: int, epochs: int) -> dict:
    """SIGKILL the MXNet worker once ``after_epoch`` epochs are done; the finished task, which
    another worker resumed from its checkpoint and trained only the epochs left."""
    running = mx.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= after_epoch,
                           timeout=240)
    victim = _worker(running)
    mx.signal(victim, signal.SIGKILL)
    done = mx.wait_task(task_id, timeout=300)
    assert done["status"] == "SUCCEEDED", done
    assert done["attempt"] == 2 and _worker(done) != victim
    resumed = done["result"]["resumed_from_epoch"]
    assert resumed >= running["progress"]["epoch"] - 1 >= after_epoch - 1
    recorded = _epochs(mx, task_id)
    assert Counter(e["epoch"] for e in recorded) == Counter(range(1, epochs + 1))
    assert sorted(e["epoch"] for e in recorded if e["attempt"] == 2) == list(range(resumed + 1, epochs + 1))
    return done


MXNET_ABSENT = pytest.mark.skipif(not (MXNET_VENV / "bin" / "python").exists(),
                                  reason=".venv-mxnet is absent (scripts/bootstrap_mxnet.sh creates it; .ci/run does)")


@MXNET_ABSENT
def test_an_mxnet_training_resumes_from_its_checkpoint():
    from tests.service.test_mxserver import SMALL, post_ok, train_body, upload_npz, wait_dataset
    from models.mxnet_backend.demo import make_demo_images

    with running_stack(workers=0, mx_workers=2) as mx:
        upload_npz(mx, SMALL, make_demo_images(per_class=24, seed=1).to_npz_bytes())
        assert wait_dataset(mx, SMALL)["status"] == "READY"
        _killed_mid_training(mx, post_ok(mx, "/train", train_body(num_epoch=12, batch_size=4)), 3, 12)


@MXNET_ABSENT
def test_a_detector_training_resumes_from_its_checkpoint():
    from tests.service.test_detection_tasks import flat_train
    from tests.service.test_mxserver import post_ok

    with running_stack(workers=0, mx_workers=2) as mx:
        done = _killed_mid_training(mx, post_ok(mx, "/train", flat_train(num_epoch=4, batch_size=16)), 2, 4)
        assert done["result"]["test_map_voc_low"] <= done["result"]["test_map_voc"]
