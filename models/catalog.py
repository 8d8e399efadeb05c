"""The registered networks and their input contracts, as plain data (no torch import).

The API lists these and checks task forms against them; ``models.networks`` builds the
torch modules for the same names. Names are matched case-insensitively, aliases included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelInfo:
    name: str
    aliases: tuple[str, ...]
    backend: str  # "torch" or "mxnet"
    input: str  # "connectome" or "image"
    description: str
    # What a trained model fixes and a fine-tune or evaluation must match.
    contract: tuple[str, ...] = ("regions", "node_features", "classes")

    def public(self) -> dict:
        return asdict(self)


CONNECTOME_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "SGN", ("GNN",), "torch", "connectome",
        "The original NEURO-LEARN recipe, kept faithfully: GCNConv(F,16) → ReLU → GCNConv(16,64) → "
        "global mean pool → log-softmax over the 64 pooled channels (it has no classification head, "
        "so only the first `classes` channels carry the prediction).",
    ),
    ModelInfo(
        "SGN-Head", ("SGN-LINEAR",), "torch", "connectome",
        "SGN corrected: the same two GCNConv layers and mean pool, then a Linear(64, classes) head.",
    ),
    ModelInfo(
        "SGN-TopK", ("SGN-TOPK",), "torch", "connectome",
        "Three GraphConv(→128) each followed by TopKPooling(0.8), max‖mean readouts summed, then "
        "Linear 256→128→64→classes with dropout 0.5.",
    ),
    ModelInfo("GCN", (), "torch", "connectome", "Three GCNConv layers on weighted edges, mean pool, linear head."),
    ModelInfo("GIN", (), "torch", "connectome", "Three GINConv layers (2-layer MLPs), sum pool, linear head."),
    ModelInfo("GAT", (), "torch", "connectome", "Two GATConv layers (4 heads), mean pool, linear head."),
    ModelInfo(
        "MLP", ("LINEAR-UT",), "torch", "connectome",
        "The classic connectome baseline: the vectorised upper triangle of the matrix into an MLP.",
        contract=("regions", "classes"),
    ),
)


def all_models() -> tuple[ModelInfo, ...]:
    return CONNECTOME_MODELS


def find_model(name: str) -> ModelInfo | None:
    """The model registered under ``name`` or one of its aliases, any case; None if unknown."""
    wanted = str(name).strip().upper()
    for info in all_models():
        if wanted == info.name.upper() or wanted in (a.upper() for a in info.aliases):
            return info
    return None
