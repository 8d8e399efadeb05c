"""Dense batched twins of PyG layers, with the same parameter names and initialisation.

A state dict saved from one loads into the other, which is what the equivalence tests check.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear as PygLinear


class DenseGCNLayer(nn.Module):
    """``GCNConv`` on a pre-normalised (B, R, R) operator: ``op @ (x W^T) + b``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin = PygLinear(in_channels, out_channels, bias=False, weight_initializer="glorot")
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # GCNConv re-initialises its Linear once more after building it; doing the same keeps a
        # seeded dense twin's initial weights identical to the PyG module's.
        self.lin.reset_parameters()
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, op: Tensor) -> Tensor:
        return torch.bmm(op, self.lin(x)) + self.bias


class DenseGINLayer(nn.Module):
    """``GINConv`` with a fixed eps: ``nn((1 + eps) x + A x)`` for a 0/1 (B, R, R) adjacency."""

    def __init__(self, mlp: nn.Module, eps: float = 0.0):
        super().__init__()
        self.nn = mlp
        self.register_buffer("eps", torch.tensor([eps]))

    def forward(self, x: Tensor, adjacency: Tensor) -> Tensor:
        return self.nn((1 + self.eps) * x + torch.bmm(adjacency, x))
