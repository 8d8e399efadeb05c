"""The registry of connectome networks, by the names and aliases of ``contracts.catalog``.

``build_network("gnn", regions=90, node_features=90, classes=2)`` builds SGN; the dense twin is
returned where one exists (it computes the same function as the sparse PyG module, faster),
``sparse=True`` asks for the PyG message-passing version.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.catalog import find_model
from models.networks.base import ConnectomeNet
from models.networks.baselines import MLP, DenseGCN, DenseGIN, SparseGCN, SparseGIN
from models.networks.sgn import DenseSGN, DenseSGNHead, SparseSGN, SparseSGNHead
from models.networks.sparse_only import GAT, SGNTopK


class UnknownModel(ValueError):
    """No network is registered under that name or alias."""


@dataclass(frozen=True)
class NetworkEntry:
    name: str
    dense: type[ConnectomeNet] | None
    sparse: type[ConnectomeNet] | None


REGISTRY: dict[str, NetworkEntry] = {
    e.name: e
    for e in (
        NetworkEntry("SGN", DenseSGN, SparseSGN),
        NetworkEntry("SGN-Head", DenseSGNHead, SparseSGNHead),
        NetworkEntry("SGN-TopK", None, SGNTopK),
        NetworkEntry("GCN", DenseGCN, SparseGCN),
        NetworkEntry("GIN", DenseGIN, SparseGIN),
        NetworkEntry("GAT", None, GAT),
        NetworkEntry("MLP", MLP, None),
    )
}


def canonical_name(name: str) -> str:
    """The registered name for ``name`` or an alias, any case. Raises UnknownModel."""
    info = find_model(name)
    if info is None or info.name not in REGISTRY:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return info.name


def build_network(name: str, *, regions: int, node_features: int, classes: int,
                  sparse: bool = False, **arch) -> ConnectomeNet:
    """Build the network ``name`` for the given contract; ``arch`` overrides its defaults.

    Raises UnknownModel for an unknown name, ValueError when ``sparse`` asks for a form the network
    lacks (MLP has no graph) or the contract is impossible (e.g. fewer than 2 classes).
    """
    entry = REGISTRY[canonical_name(name)]
    cls = entry.sparse if sparse or entry.dense is None else entry.dense
    if cls is None:
        raise ValueError(f"{entry.name} has no sparse (message-passing) form")
    return cls(regions, node_features, classes, **arch)


__all__ = ["REGISTRY", "ConnectomeNet", "NetworkEntry", "UnknownModel", "build_network", "canonical_name"]
