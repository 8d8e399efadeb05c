"""Networks that stay sparse: TopK pooling and attention have no exact dense twin here.

TopKPooling drops a different node set per subject (so batches are ragged) and GAT's attention
softmax runs over each node's neighbours; both could be written densely with masks, but that is
not a plain batched product, so they use PyG's message passing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GraphConv, TopKPooling, global_max_pool, global_mean_pool

from models.graphs import to_pyg_batch
from models.networks.base import ConnectomeNet


class SGNTopK(ConnectomeNet):
    """Three GraphConv(→hidden) + TopKPooling(ratio), max‖mean readouts summed, MLP head."""

    name = "SGN-TopK"
    dense = False

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 128,
                 ratio: float = 0.8, dropout: float = 0.5):
        super().__init__(regions, node_features, classes, hidden=hidden, ratio=ratio, dropout=dropout)
        dims = [node_features, hidden, hidden, hidden]
        self.convs = nn.ModuleList(GraphConv(a, b) for a, b in zip(dims, dims[1:]))
        self.pools = nn.ModuleList(TopKPooling(hidden, ratio=ratio) for _ in range(3))
        self.lin1 = nn.Linear(2 * hidden, 128)
        self.lin2 = nn.Linear(128, 64)
        self.lin3 = nn.Linear(64, classes)
        self.dropout = dropout

    def forward_graph(self, data) -> Tensor:
        x, edge_index, w, batch = data.x, data.edge_index, data.edge_weight, data.batch
        readout = 0
        for conv, pool in zip(self.convs, self.pools):
            x = conv(x, edge_index, w).relu()
            x, edge_index, w, batch, _, _ = pool(x, edge_index, w, batch)
            readout = readout + torch.cat([global_max_pool(x, batch), global_mean_pool(x, batch)], dim=1)
        h = F.dropout(self.lin1(readout).relu(), p=self.dropout, training=self.training)
        h = self.lin2(h).relu()
        return F.log_softmax(self.lin3(h), dim=-1)

    def forward(self, x, weight, mask) -> Tensor:
        return self.forward_graph(to_pyg_batch(x, weight, mask))


class GAT(ConnectomeNet):
    """Two GATConv layers (``heads`` heads, edge value as a 1-d edge feature), mean pool, head."""

    name = "GAT"
    dense = False

    def __init__(self, regions: int, node_features: int, classes: int, hidden: int = 16, heads: int = 4):
        super().__init__(regions, node_features, classes, hidden=hidden, heads=heads)
        self.conv1 = GATConv(node_features, hidden, heads=heads, edge_dim=1)
        self.conv2 = GATConv(hidden * heads, hidden, heads=heads, concat=False, edge_dim=1)
        self.head = nn.Linear(hidden, classes)

    def forward_graph(self, data) -> Tensor:
        x = F.elu(self.conv1(data.x, data.edge_index, data.edge_attr))
        x = F.elu(self.conv2(x, data.edge_index, data.edge_attr))
        return F.log_softmax(self.head(global_mean_pool(x, data.batch)), dim=-1)

    def forward(self, x, weight, mask) -> Tensor:
        return self.forward_graph(to_pyg_batch(x, weight, mask))
