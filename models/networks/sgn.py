"""SGN, the NEURO-LEARN recipe: GCNConv(F,16) → ReLU → GCNConv(16,64) → mean pool → log-softmax.

``SGN`` keeps it faithfully, without a classification head: the log-softmax runs over the 64 pooled
channels and the loss reads the first ``classes`` of them. ``SGN-Head`` adds Linear(64, classes).
Like the original, the convolutions ignore edge values (``GCNConv(x, edge_index)``). On a complete
unweighted graph the normalised operator is the all-(1/R) matrix, so SGN sees only the mean of the
node features over regions; with thresholding it sees the kept graph's structure.

The dense and sparse classes compute the same function and share parameter names.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, global_mean_pool

from models.graphs import to_pyg_batch
from models.networks.base import ConnectomeNet, gcn_operator
from models.networks.dense_layers import DenseGCNLayer


class DenseSGN(ConnectomeNet):
    name = "SGN"
    dense = True

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 16, out: int = 64):
        super().__init__(regions, node_features, classes, hidden=hidden, out=out)
        if classes > out:
            raise ValueError(f"SGN has {out} output channels and cannot predict {classes} classes")
        self.conv1 = DenseGCNLayer(node_features, hidden)
        self.conv2 = DenseGCNLayer(hidden, out)

    @property
    def n_outputs(self) -> int:
        return self.conv2.bias.shape[0]

    def prepare(self, x, weight, mask):
        return x, gcn_operator(mask)

    def embed(self, x: Tensor, op: Tensor) -> Tensor:
        x = self.conv1(x, op).relu()
        return self.conv2(x, op).mean(dim=1)

    def forward(self, x: Tensor, op: Tensor) -> Tensor:
        return F.log_softmax(self.embed(x, op), dim=-1)


class SparseSGN(ConnectomeNet):
    name = "SGN"
    dense = False

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 16, out: int = 64):
        super().__init__(regions, node_features, classes, hidden=hidden, out=out)
        if classes > out:
            raise ValueError(f"SGN has {out} output channels and cannot predict {classes} classes")
        self.conv1 = GCNConv(node_features, hidden)
        self.conv2 = GCNConv(hidden, out)

    @property
    def n_outputs(self) -> int:
        return self.conv2.bias.shape[0]

    def embed_graph(self, x, edge_index, batch) -> Tensor:
        x = self.conv1(x, edge_index).relu()
        return global_mean_pool(self.conv2(x, edge_index), batch)

    def forward_graph(self, data) -> Tensor:
        return F.log_softmax(self.embed_graph(data.x, data.edge_index, data.batch), dim=-1)

    def forward(self, x, weight, mask) -> Tensor:
        return self.forward_graph(to_pyg_batch(x, weight, mask))


class DenseSGNHead(DenseSGN):
    name = "SGN-Head"

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 16, out: int = 64):
        super().__init__(regions, node_features, classes, hidden=hidden, out=out)
        self.head = nn.Linear(out, classes)

    @property
    def n_outputs(self) -> int:
        return self.classes

    def forward(self, x: Tensor, op: Tensor) -> Tensor:
        return F.log_softmax(self.head(self.embed(x, op)), dim=-1)


class SparseSGNHead(SparseSGN):
    name = "SGN-Head"

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 16, out: int = 64):
        super().__init__(regions, node_features, classes, hidden=hidden, out=out)
        self.head = nn.Linear(out, classes)

    @property
    def n_outputs(self) -> int:
        return self.classes

    def forward_graph(self, data) -> Tensor:
        return F.log_softmax(self.head(self.embed_graph(data.x, data.edge_index, data.batch)), dim=-1)
