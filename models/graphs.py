"""Connectivity matrices → graphs, as dense tensors and as PyTorch Geometric ``Data`` objects.

Graph building follows the original NEURO-LEARN SGN loader: each subject's matrix is z-scored, and
every pair of regions is joined by an edge whose value is the z-scored connectivity.

Edges. The original built ``edge_index`` from the upper triangle (``i <= j``) only. PyG messages
flow from ``edge_index[0]`` to ``edge_index[1]``, so with upper-triangle edges region ``j`` hears
only regions ``0..j``: a region's representation depends on its arbitrary position in the atlas,
and the last region sees the whole brain while the first sees only itself. Functional connectivity
is undirected, so we add both directions of every pair (``i != j``); layers that need self-loops
(GCN) add them themselves. Z-scoring uses the off-diagonal entries, and the diagonal (a region with
itself, Fisher-z infinite) is 0, where the original z-scored the whole matrix with its diagonal.

Thresholding. ``keep_percent < 100`` keeps, per subject, the strongest ``keep_percent`` % of
region pairs by ``|weight|``; the others are no edge at all.

Node features. The dataset's own (e.g. GMV, ReHo, ALFF, DC) when it has them; otherwise each
region's connectivity profile, its row of the z-scored matrix. The original's oldest loader gave
every region the constant feature ``[1]``: on a complete graph whose edges carry no weight every
node then has the same input and the same neighbourhood, so every layer outputs the same vector for
every region of every subject; all subjects look identical to the network and it can learn nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from models.datasets.types import ConnectomeDataset


@dataclass(frozen=True)
class GraphTensors:
    """A dataset as dense tensors, indexed by subject on dim 0.

    ``weight`` holds the z-scored value of every kept edge and 0 elsewhere (diagonal included);
    ``mask`` is 1.0 where an edge exists, so an edge whose z-score happens to be 0 is still an edge.
    """

    x: torch.Tensor  # (N, R, F) float32
    weight: torch.Tensor  # (N, R, R) float32
    mask: torch.Tensor  # (N, R, R) float32, 0/1
    y: torch.Tensor  # (N,) int64

    @property
    def n_node_features(self) -> int:
        return int(self.x.shape[2])

    def to(self, device) -> "GraphTensors":
        return GraphTensors(*(t.to(device) for t in (self.x, self.weight, self.mask, self.y)))


def node_feature_count(regions: int, dataset_features: int) -> int:
    """Node features a network sees: the dataset's when it has some, else one per region."""
    return dataset_features if dataset_features > 0 else regions


def zscore_matrices(conn: np.ndarray) -> np.ndarray:
    """Z-score each (R, R) matrix over its off-diagonal entries; the diagonal becomes 0.

    Raises ValueError when ``conn`` is not (N, R, R) with R >= 2.
    """
    if conn.ndim != 3 or conn.shape[1] != conn.shape[2] or conn.shape[1] < 2:
        raise ValueError(f"expected (N, R, R) matrices, got shape {conn.shape}")
    r = conn.shape[1]
    off = ~np.eye(r, dtype=bool)
    values = conn[:, off].astype(np.float64)
    mean = values.mean(axis=1)[:, None, None]
    std = values.std(axis=1)[:, None, None]
    z = (conn - mean) / np.where(std > 0, std, 1.0)
    z[:, ~off] = 0.0
    return z.astype(np.float32)


def edge_mask(z: np.ndarray, keep_percent: float = 100.0) -> np.ndarray:
    """1.0 for the kept region pairs of each subject (both directions), 0.0 elsewhere.

    Keeps the strongest ``keep_percent`` % of pairs by ``|z|`` (at least one pair); ties at the
    cut-off are broken by position, so every subject keeps the same number of edges.
    Raises ValueError when ``keep_percent`` is not in (0, 100].
    """
    if not 0.0 < keep_percent <= 100.0:
        raise ValueError(f"edge keep percent must be in (0, 100], got {keep_percent}")
    n, r, _ = z.shape
    iu = np.triu_indices(r, k=1)
    mask = np.zeros(z.shape, dtype=np.float32)
    n_pairs = iu[0].size
    keep = n_pairs if keep_percent >= 100.0 else max(1, int(round(n_pairs * keep_percent / 100.0)))
    strength = np.abs(z[:, iu[0], iu[1]])
    order = np.argsort(-strength, axis=1, kind="stable")[:, :keep]
    for i in range(n):
        mask[i, iu[0][order[i]], iu[1][order[i]]] = 1.0
    return np.maximum(mask, mask.transpose(0, 2, 1))


def build_graphs(dataset: ConnectomeDataset, keep_percent: float = 100.0) -> GraphTensors:
    """The dataset's graphs as dense tensors (see the module docstring for the choices).

    Raises ValueError for a bad ``keep_percent`` or malformed matrices.
    """
    z = zscore_matrices(dataset.conn)
    mask = edge_mask(z, keep_percent)
    x = dataset.features if dataset.n_features > 0 else z
    return GraphTensors(
        x=torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        weight=torch.from_numpy(z * mask),
        mask=torch.from_numpy(mask),
        y=torch.from_numpy(dataset.labels.astype(np.int64)),
    )


def to_pyg_batch(x: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor) -> Batch:
    """Dense (B, R, ·) tensors → one PyG ``Batch`` with sparse both-direction edges.

    ``edge_weight`` (E,) and ``edge_attr`` (E, 1) both carry the z-scored edge value.
    """
    b, r, f = x.shape
    graph, src, dst = mask.nonzero(as_tuple=True)
    offset = graph * r
    edge_index = torch.stack([src + offset, dst + offset])
    edge_weight = weight[graph, src, dst]
    batch = torch.arange(b, device=x.device).repeat_interleave(r)
    return Batch(
        x=x.reshape(b * r, f),
        edge_index=edge_index,
        edge_weight=edge_weight,
        edge_attr=edge_weight.unsqueeze(1),
        batch=batch,
        ptr=torch.arange(0, (b + 1) * r, r, device=x.device),
    )


def to_data_list(graphs: GraphTensors) -> list[Data]:
    """One PyG ``Data`` per subject (``x``, ``edge_index``, ``edge_weight``, ``edge_attr``, ``y``)."""
    out = []
    for i in range(graphs.y.shape[0]):
        src, dst = graphs.mask[i].nonzero(as_tuple=True)
        w = graphs.weight[i, src, dst]
        out.append(
            Data(
                x=graphs.x[i],
                edge_index=torch.stack([src, dst]),
                edge_weight=w,
                edge_attr=w.unsqueeze(1),
                y=graphs.y[i : i + 1],
            )
        )
    return out
