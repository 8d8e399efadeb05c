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
    # False: fitted in one step (no epochs, nothing to fine-tune), as the tangent-logreg baseline.
    iterative: bool = True

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
    ModelInfo(
        "tangent-logreg", ("TANGENT",), "torch", "connectome",
        "The standard baseline (Dadi et al. 2019): each matrix (as a correlation, shrunk 10% towards "
        "the identity) in pyriemann's tangent space at the training subjects' Riemannian mean, then "
        "scikit-learn's l2 LogisticRegression. One fit, no epochs; dl_ts and dl_ev only.",
        contract=("regions", "classes"), iterative=False,
    ),
)


# MXNet image classifiers (MXServer's jobs), trained through POST /train by the MXNet worker.
# Plain data: the names and aliases must equal models.mxnet_backend.networks.MX_NETWORKS, which
# imports mxnet (tests/mxnet/test_catalog_agrees.py checks that they do).
_IMAGE_CONTRACT = ("classes", "image_shape")
IMAGE_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("small-cnn", ("lenet", "smallcnn"), "mxnet", "image",
              "Two conv+BN+ReLU+maxpool blocks, global average pool, dense 128, dropout, dense "
              "classes. For 16-64 pixel images, 1 or 3 channels.", _IMAGE_CONTRACT),
    ModelInfo("alexnet", (), "mxnet", "image",
              "AlexNet (Gluon model zoo, random init); its weights fix the image size.", _IMAGE_CONTRACT),
    ModelInfo("resnet18_v1", ("resnet18",), "mxnet", "image", "ResNet-18 v1 (Gluon model zoo).",
              _IMAGE_CONTRACT),
    ModelInfo("resnet34_v1", ("resnet34",), "mxnet", "image", "ResNet-34 v1 (Gluon model zoo).",
              _IMAGE_CONTRACT),
    ModelInfo("resnet18_v2", (), "mxnet", "image", "ResNet-18 v2, pre-activation (Gluon model zoo).",
              _IMAGE_CONTRACT),
    ModelInfo("mobilenet1.0", ("mobilenet",), "mxnet", "image", "MobileNet v1, width 1.0 (Gluon model zoo).",
              _IMAGE_CONTRACT),
    ModelInfo("mobilenet0.25", (), "mxnet", "image", "MobileNet v1, width 0.25 (Gluon model zoo).",
              _IMAGE_CONTRACT),
    ModelInfo("mobilenetv2_1.0", ("mobilenetv2",), "mxnet", "image",
              "MobileNet v2, width 1.0 (Gluon model zoo).", _IMAGE_CONTRACT),
    ModelInfo("squeezenet1.1", ("squeezenet",), "mxnet", "image", "SqueezeNet 1.1 (Gluon model zoo).",
              _IMAGE_CONTRACT),
)


def all_models() -> tuple[ModelInfo, ...]:
    return CONNECTOME_MODELS + IMAGE_MODELS


def find_model(name: str) -> ModelInfo | None:
    """The model registered under ``name`` or one of its aliases, any case; None if unknown."""
    wanted = str(name).strip().upper()
    for info in all_models():
        if wanted == info.name.upper() or wanted in (a.upper() for a in info.aliases):
            return info
    return None
