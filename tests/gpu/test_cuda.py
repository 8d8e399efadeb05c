"""GPU paths, on a machine with a CUDA GPU (they skip elsewhere, the only tests allowed to):
the SGN recipe trained on CUDA matches the CPU run within tolerance, and a worker pinned with
``--gpu 0`` runs a task on CUDA and reports its GPU's memory in the inventory.

Run on a GPU machine as one script:
    TRAINYARD_GPU_REPORT=$OUT/gpu.json .venv/bin/python -m pytest tests/gpu -q -s
which also writes the epoch times on CPU and CUDA to that file.
"""

from __future__ import annotations

import json
import os
import time

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]

TOLERANCE = 1e-3  # CUDA kernels sum in another order than the CPU's


def _report(key: str, value) -> None:  # noqa: ANN001
    path = os.environ.get("TRAINYARD_GPU_REPORT")
    if not path:
        return
    data = json.loads(open(path).read()) if os.path.exists(path) else {}
    data[key] = value
    with open(path, "w") as fh:
        json.dump(data, fh, indent=2)


def _train_sgn(device: str):
    from models.datasets.synthetic import synthetic_aal90
    from models.engine import run_job
    from models.job import JobSpec
    from tests.models.engine_helpers import Recorder, params, split

    train, val, test = split(synthetic_aal90(140, seed=0))
    hooks = Recorder()
    t0 = time.perf_counter()
    outcome = run_job(JobSpec("dl_ts", "SGN", params(epochs=5, learning_rate=0.05), train, val, test), hooks,
                      device=device)
    return hooks.epochs, outcome, time.perf_counter() - t0


def test_sgn_on_cuda_matches_the_cpu_run():
    cpu_epochs, cpu, cpu_s = _train_sgn("cpu")
    gpu_epochs, gpu, gpu_s = _train_sgn("cuda:0")
    assert gpu.result["device"].startswith("cuda")
    for c, g in zip(cpu_epochs, gpu_epochs, strict=True):
        assert g.train_loss == pytest.approx(c.train_loss, rel=TOLERANCE, abs=TOLERANCE)
        assert g.val_loss == pytest.approx(c.val_loss, rel=TOLERANCE, abs=TOLERANCE)
    assert gpu.result["test_accuracy"] == pytest.approx(cpu.result["test_accuracy"], abs=0.02)
    _report("engine", {
        "cpu_epoch_s": [e.seconds for e in cpu_epochs], "cuda_epoch_s": [e.seconds for e in gpu_epochs],
        "cpu_total_s": cpu_s, "cuda_total_s": gpu_s,
        "cpu_final_val_loss": cpu_epochs[-1].val_loss, "cuda_final_val_loss": gpu_epochs[-1].val_loss,
        "cpu_test_accuracy": cpu.result["test_accuracy"], "cuda_test_accuracy": gpu.result["test_accuracy"],
    })


def test_a_worker_pinned_to_gpu_0_trains_on_cuda_and_reports_its_memory():
    from tests.service.forms import form
    from tests.service.stack import running_stack

    with running_stack(workers=0, point_here=False) as s:
        s.spawn("gpu0", "worker", "--gpu", "0", "--name", f"gpu0-{s.queue}@%h")
        s.wait_log("gpu0", "ready", timeout=120)
        gpus = [g for g in s.get("/api/v0/gpus").json()["gpus"] if g["worker"].startswith("gpu0-")]
        assert len(gpus) == 1 and gpus[0]["total_bytes"] > 0 and gpus[0]["free_bytes"] > 0, gpus
        task_id = s.submit(form(epochs=3, seed=0, requirements={"device": "gpu"}))
        done = s.wait_task(task_id, timeout=300)
        assert done["status"] == "SUCCEEDED", done
        assert done["device"].startswith("cuda") and done["worker"].startswith("gpu0-")
        _report("worker", {"gpu": gpus[0], "device": done["device"],
                           "epoch_s": [e["seconds"] for e in s.get(f"/api/v0/tasks/{task_id}/epochs").json()["epochs"]]})
