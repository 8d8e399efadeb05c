"""``predict(blob, conn, features=None)``: class probabilities of a downloaded torch model
(GET /api/v0/tasks/<id>/model) for new subjects, built as training built its graphs.

Input, per subject: the R×R connectivity matrix (``conn``: one R×R array or N×R×R), and when the
model was trained on node features, R×F of them (``features``: N×R×F), with R and F the model's
contract (GET /api/v0/tasks/<id>/model/info). The matrices are z-scored and thresholded with the
task's own edge_keep_percent, exactly as in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.datasets.types import ConnectomeDataset
from models.engine import load_network
from models.graphs import build_graphs
from models.training import evaluate, prepare
from models.weights import read_weights_meta


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (N, classes), rows sum to 1
    classes: list[str]  # the most probable class of each subject
    class_names: list[str]  # the columns of ``probabilities``


def _as_batch(array, ndim: int, name: str) -> np.ndarray:  # noqa: ANN001
    out = np.asarray(array, dtype=np.float32)
    out = out[None] if out.ndim == ndim - 1 else out
    if out.ndim != ndim:
        raise ValueError(f"{name} must be {ndim - 1} or {ndim} dimensional, got shape {out.shape}")
    return out


def predict(blob: bytes, conn, features=None) -> Prediction:  # noqa: ANN001 - array-likes
    """Raises BadWeights for a blob that is not a trainyard torch model, ValueError for input
    whose shape does not fit the model's contract (regions, node features)."""
    meta = read_weights_meta(blob)
    contract = meta["contract"]
    conn = _as_batch(conn, 3, "conn")
    regions = int(contract["regions"])
    if conn.shape[1:] != (regions, regions):
        raise ValueError(f"conn must be N×{regions}×{regions} (the model's regions), got {conn.shape}")
    feats = None if features is None else _as_batch(features, 3, "features")
    width = feats.shape[2] if feats is not None else regions
    if width != int(contract["node_features"]) or (feats is not None and feats.shape[:2] != conn.shape[:2]):
        raise ValueError(f"the model takes {contract['node_features']} node features per region; "
                         f"got {'none' if feats is None else feats.shape} (send features N×{regions}×F "
                         f"when it was trained on them)")
    names = tuple(contract["class_names"])
    n = conn.shape[0]
    ds = ConnectomeDataset(conn, np.zeros(n, dtype=np.int64), tuple(str(i) for i in range(n)), names, feats)
    net = load_network(blob)
    keep = float(meta.get("graph", {}).get("edge_keep_percent", 100.0))
    with torch.no_grad():
        _, _, prob = evaluate(net, prepare(net, build_graphs(ds, keep), torch.device("cpu")))
    probs = prob.numpy()
    return Prediction(probs, [names[i] for i in probs.argmax(axis=1)], list(names))
