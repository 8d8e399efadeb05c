"""Baselines researchers compare SGN against: GCN and GIN (dense and sparse twins) and the MLP.

GCN weighs each edge by ``|z|`` (GCN's normalisation needs non-negative weights; the sign stays
in the node features). GIN ignores edge values and sums over neighbours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, GINConv, global_add_pool, global_mean_pool

from models.graphs import to_pyg_batch
from models.networks.base import ConnectomeNet, gcn_operator
from models.networks.dense_layers import DenseGCNLayer, DenseGINLayer


class DenseGCN(ConnectomeNet):
    name = "GCN"
    dense = True

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 32, layers: int = 3):
        super().__init__(regions, node_features, classes, hidden=hidden, layers=layers)
        dims = [node_features] + [hidden] * layers
        self.convs = nn.ModuleList(DenseGCNLayer(a, b) for a, b in zip(dims, dims[1:]))
        self.head = nn.Linear(hidden, classes)

    def prepare(self, x, weight, mask):
        return x, gcn_operator(weight.abs())

    def forward(self, x: Tensor, op: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x, op).relu()
        return F.log_softmax(self.head(x.mean(dim=1)), dim=-1)


class SparseGCN(ConnectomeNet):
    name = "GCN"
    dense = False

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 32, layers: int = 3):
        super().__init__(regions, node_features, classes, hidden=hidden, layers=layers)
        dims = [node_features] + [hidden] * layers
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in zip(dims, dims[1:]))
        self.head = nn.Linear(hidden, classes)

    def forward_graph(self, data) -> Tensor:
        x, w = data.x, data.edge_weight.abs()
        for conv in self.convs:
            x = conv(x, data.edge_index, w).relu()
        return F.log_softmax(self.head(global_mean_pool(x, data.batch)), dim=-1)

    def forward(self, x, weight, mask) -> Tensor:
        return self.forward_graph(to_pyg_batch(x, weight, mask))


def _gin_mlp(a: int, b: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, b))


class DenseGIN(ConnectomeNet):
    name = "GIN"
    dense = True

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 32, layers: int = 3):
        super().__init__(regions, node_features, classes, hidden=hidden, layers=layers)
        dims = [node_features] + [hidden] * layers
        self.convs = nn.ModuleList(DenseGINLayer(_gin_mlp(a, b)) for a, b in zip(dims, dims[1:]))
        self.head = nn.Linear(hidden, classes)

    def prepare(self, x, weight, mask):
        return x, mask

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        for conv in self.convs:
            x = conv(x, adjacency).relu()
        return F.log_softmax(self.head(x.sum(dim=1)), dim=-1)


class SparseGIN(ConnectomeNet):
    name = "GIN"
    dense = False

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 32, layers: int = 3):
        super().__init__(regions, node_features, classes, hidden=hidden, layers=layers)
        dims = [node_features] + [hidden] * layers
        self.convs = nn.ModuleList(GINConv(_gin_mlp(a, b)) for a, b in zip(dims, dims[1:]))
        self.head = nn.Linear(hidden, classes)

    def forward_graph(self, data) -> Tensor:
        x = data.x
        for conv in self.convs:
            x = conv(x, data.edge_index).relu()
        return F.log_softmax(self.head(global_add_pool(x, data.batch)), dim=-1)

    def forward(self, x, weight, mask) -> Tensor:
        return self.forward_graph(to_pyg_batch(x, weight, mask))


class MLP(ConnectomeNet):
    """The classic connectome baseline: the vectorised upper triangle into a small MLP."""

    name = "MLP"
    dense = True

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 64, dropout: float = 0.5):
        super().__init__(regions, node_features, classes, hidden=hidden, dropout=dropout)
        self.register_buffer("rows", torch.triu_indices(regions, regions, offset=1)[0], persistent=False)
        self.register_buffer("cols", torch.triu_indices(regions, regions, offset=1)[1], persistent=False)
        self.lin1 = nn.Linear(regions * (regions - 1) // 2, hidden)
        self.lin2 = nn.Linear(hidden, classes)
        self.dropout = dropout

    def prepare(self, x, weight, mask):
        return (weight[:, self.rows, self.cols],)

    def forward(self, upper: Tensor) -> Tensor:
        h = F.dropout(self.lin1(upper).relu(), p=self.dropout, training=self.training)
        return F.log_softmax(self.lin2(h), dim=-1)
