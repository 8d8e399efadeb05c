"""Export a trained connectome network to ONNX with its preprocessing inside the graph, and
verify the export against the training engine.

The exported graph takes what a person has: ``conn``, raw (B, R, R) connectivity matrices (and
``features``, (B, R, F) node features, when the model was trained on a dataset that has them). It
does what ``models.graphs.build_graphs`` does (z-score over the off-diagonal entries, keep the
strongest k % of region pairs, the matrix row as node features when the dataset has none), then
``net.prepare`` and the dense twin's forward, and answers ``probabilities`` (B, classes): the
softmax over the class outputs, as ``models.training.evaluate`` computes it.

Verification runs the ONNX file in onnxruntime and the engine (numpy graph building + torch) on
the same subjects and records the largest absolute difference between their probabilities.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from models.datasets.types import ConnectomeDataset
from models.engine import load_network
from models.graphs import build_graphs
from models.networks import ConnectomeNet
from models.training import evaluate, prepare
from models.weights import read_weights_meta

OPSET = 17
TOLERANCE = 1e-4  # probabilities; float32 z-scoring in the graph vs float64 in numpy


class ExportFailed(RuntimeError):
    """The network cannot be exported, or its export does not match the engine."""


class RawConnectome(nn.Module):
    """Raw matrices → class probabilities: the engine's graph building, in torch ops ONNX has."""

    def __init__(self, net: ConnectomeNet, keep_percent: float, dataset_features: int):
        super().__init__()
        self.net = net
        r = net.regions
        self.register_buffer("off", 1.0 - torch.eye(r), persistent=False)
        rows, cols = torch.triu_indices(r, r, offset=1)
        self.register_buffer("pairs", rows * r + cols, persistent=False)
        n_pairs = int(self.pairs.numel())
        self.keep = n_pairs if keep_percent >= 100.0 else max(1, int(round(n_pairs * keep_percent / 100.0)))
        self.all_pairs = self.keep >= n_pairs  # a plain bool, so tracing sees no tensor condition
        self.use_features = dataset_features > 0
        self.n_off = float(r * (r - 1))

    def zscore(self, conn: Tensor) -> Tensor:
        mean = (conn * self.off).sum(dim=(1, 2), keepdim=True) / self.n_off
        centred = (conn - mean) * self.off
        std = (centred.pow(2).sum(dim=(1, 2), keepdim=True) / self.n_off).sqrt()
        return centred / torch.where(std > 0, std, torch.ones_like(std))

    def edge_mask(self, z: Tensor) -> Tensor:
        b, r = z.shape[0], z.shape[1]
        if self.all_pairs:
            return self.off.expand(b, r, r)
        strength = z.reshape(b, r * r).abs().index_select(1, self.pairs)
        chosen = self.pairs.index_select(0, strength.topk(self.keep, dim=1).indices.reshape(-1)).reshape(b, -1)
        flat = torch.zeros(b, r * r, dtype=z.dtype).scatter(1, chosen, 1.0)
        upper = flat.reshape(b, r, r)
        return torch.maximum(upper, upper.transpose(1, 2))

    def forward(self, conn: Tensor, features: Tensor | None = None) -> Tensor:
        z = self.zscore(conn)
        mask = self.edge_mask(z)
        x = features if self.use_features else z
        out = self.net(*self.net.prepare(x, z * mask, mask))
        return out[:, : self.net.classes].softmax(dim=1)


@dataclass(frozen=True)
class Exported:
    onnx: bytes
    contract: dict  # regions, node_features, classes, class_names, preprocessing, inputs, outputs


def export_weights(blob: bytes, dataset_features: int) -> Exported:
    """The ONNX file of a weights blob (what a torch task published). Raises ExportFailed
    (a network without a dense twin), BadWeights."""
    meta = read_weights_meta(blob)
    net = load_network(blob)
    if not net.dense:
        raise ExportFailed(f"{meta['model']} has no dense twin; only dense networks export to ONNX")
    keep = float(meta.get("graph", {}).get("edge_keep_percent", 100.0))
    wrapper = RawConnectome(net, keep, dataset_features).eval()
    r = net.regions
    args: tuple = (torch.zeros(2, r, r),)
    names, axes = ["conn"], {"conn": {0: "batch"}, "probabilities": {0: "batch"}}
    if dataset_features > 0:
        args += (torch.zeros(2, r, dataset_features),)
        names.append("features")
        axes["features"] = {0: "batch"}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(wrapper, args, buf, input_names=names, output_names=["probabilities"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    return Exported(buf.getvalue(), _contract(meta, names, keep, dataset_features))


def _contract(meta: dict, names: list[str], keep: float, dataset_features: int) -> dict:
    c = meta["contract"]
    r = int(c["regions"])
    inputs = [{"name": "conn", "datatype": "FP32", "shape": [-1, r, r]}]
    if dataset_features > 0:
        inputs.append({"name": "features", "datatype": "FP32", "shape": [-1, r, dataset_features]})
    return {
        "model": meta["model"], "regions": r, "node_features": int(c["node_features"]),
        "dataset_features": dataset_features, "classes": int(c["classes"]),
        "class_names": list(c.get("class_names") or []),
        "preprocessing": {"zscore": "per subject over the off-diagonal entries; diagonal 0",
                          "edge_keep_percent": keep,
                          "node_features": "dataset features" if dataset_features > 0
                          else "connectivity profile (z-scored matrix row)",
                          "where": "inside the ONNX graph: send raw R×R matrices"},
        "inputs": inputs,
        "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, int(c["classes"])]}],
    }


def engine_probabilities(blob: bytes, ds: ConnectomeDataset) -> np.ndarray:
    """The training engine's class probabilities for ``ds`` (its own graph building)."""
    meta = read_weights_meta(blob)
    net = load_network(blob)
    keep = float(meta.get("graph", {}).get("edge_keep_percent", 100.0))
    return evaluate(net, prepare(net, build_graphs(ds, keep), torch.device("cpu")))[2].numpy()


def onnx_probabilities(onnx: bytes, ds: ConnectomeDataset) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    feeds = {"conn": ds.conn.astype(np.float32)}
    if ds.n_features > 0:
        feeds["features"] = ds.features.astype(np.float32)
    return session.run(["probabilities"], feeds)[0]


def verify(blob: bytes, exported: Exported, ds: ConnectomeDataset, role: str,
           tolerance: float = TOLERANCE) -> dict:
    """The verification record; raises ExportFailed when onnxruntime and the engine differ by
    more than ``tolerance`` on any probability."""
    if ds.n_subjects == 0:
        raise ExportFailed("no subjects to verify the export on")
    diff = float(np.max(np.abs(engine_probabilities(blob, ds) - onnx_probabilities(exported.onnx, ds))))
    record = {"max_abs_diff": diff, "tolerance": tolerance, "n_subjects": ds.n_subjects,
              "subjects": role, "compared": "class probabilities: onnxruntime vs the torch engine"}
    if not diff <= tolerance:
        raise ExportFailed(f"the ONNX export differs from the torch engine by {diff:.3g} "
                           f"(tolerance {tolerance}) on the task's {role} subjects")
    return record
