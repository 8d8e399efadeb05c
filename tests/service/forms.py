"""Task forms for the service tests, starting from the seed's example form."""

from __future__ import annotations

import copy
import io

import numpy as np

DEMO = "A_181210_140_SZ_sfMRI_AAL90"

SEED_FORM = {
    "proj_id": "PROJ20191217104136",
    "proj_name": "SZ with sfMRI",
    "task_name": "test",
    "task_type": "dl_ft",
    "train_data": [DEMO],
    "val_data": [DEMO],
    "enable_test": True,
    "test_data": [DEMO],
    "model": "GNN",
    "param_set": {
        "learning_rate": 5e-2,
        "batch_size": 10,
        "lr_step_size": 60,
        "lr_decay": 0.2,
        "epochs": 1,
        "trained_task_id": "TASK20012912454500",
    },
}


def form(**changes) -> dict:
    """The seed form as a dl_ts, with top-level or ``param_set`` fields changed."""
    out = copy.deepcopy(SEED_FORM)
    out["task_type"] = "dl_ts"
    out["param_set"]["trained_task_id"] = ""
    for key, value in changes.items():
        if key in out["param_set"] or key in ("seed", "optimizer", "weight_decay", "edge_keep_percent"):
            out["param_set"][key] = value
        else:
            out[key] = value
    return out


def small_npz(n: int = 12, r: int = 6, seed: int = 0) -> bytes:
    """A small valid connectome upload: n symmetric r×r matrices, NC and SZ alternating."""
    rng = np.random.default_rng(seed)
    conn = rng.normal(size=(n, r, r)).astype(np.float32)
    buf = io.BytesIO()
    np.savez(buf, conn=(conn + conn.transpose(0, 2, 1)) / 2, labels=np.array(["NC", "SZ"] * (n // 2)))
    return buf.getvalue()
