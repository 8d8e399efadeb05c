"""What every connectome network shares: its input contract and the two-step call convention.

``net.prepare(x, weight, mask)`` turns a dataset's dense graph tensors (see ``models.graphs``) into
the per-subject inputs this network consumes (all indexed by subject on dim 0, so they can be
computed once per dataset and sliced per batch); ``net(*inputs)`` returns log-probabilities of
shape (B, ``n_outputs``). Only the first ``classes`` outputs are class scores (``n_outputs`` is
larger only for the faithful SGN, which has no head).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ConnectomeNet(nn.Module):
    """Base class: stores the contract and the architecture arguments needed to rebuild."""

    name = "?"
    dense = True

    def __init__(self, regions: int, node_features: int, classes: int, **arch):
        super().__init__()
        if regions < 2 or node_features < 1 or classes < 2:
            raise ValueError(
                f"{self.name}: need regions >= 2, node_features >= 1, classes >= 2; "
                f"got {regions}, {node_features}, {classes}"
            )
        self.regions = int(regions)
        self.node_features = int(node_features)
        self.classes = int(classes)
        self.arch = dict(arch)

    @property
    def n_outputs(self) -> int:
        return self.classes

    def contract(self) -> dict:
        return {
            "model": self.name,
            "regions": self.regions,
            "node_features": self.node_features,
            "classes": self.classes,
        }

    def prepare(self, x: Tensor, weight: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
        """Default for sparse networks: pass the dense tensors through unchanged."""
        return x, weight, mask


def gcn_operator(adjacency: Tensor) -> Tensor:
    """D^-1/2 (A + I) D^-1/2 for a batch of (B, R, R) non-negative adjacencies.

    The same normalisation PyG's ``GCNConv`` applies to a sparse graph with self-loops of weight 1
    (a node of degree 0 gets a zero row there; with the self-loop every degree is >= 1 here).
    """
    eye = torch.eye(adjacency.shape[-1], dtype=adjacency.dtype, device=adjacency.device)
    a = adjacency + eye
    d = a.sum(dim=-1).pow(-0.5)
    return d.unsqueeze(-1) * a * d.unsqueeze(-2)
