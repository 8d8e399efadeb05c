"""The registered networks and their input contracts, as plain data (no torch import).

The API lists these and checks task forms against them; ``models.networks`` builds the
torch modules for the same names. Names are matched case-insensitively, aliases included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class ImageInput:
    """The images an image network takes. Smaller ones are upsampled to ``min_size``; a 1-channel
    image is repeated to 3 for a network that needs 3."""

    channels: int | None  # None: 1 or 3
    default_size: int  # the (square) size it was designed for
    min_size: int
    any_size: bool = True  # False: its weights fix the input size (a dense layer after flatten)
    max_size: int = 4096  # the largest side it is fed (an image upload's own limit)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    aliases: tuple[str, ...]
    backend: str  # "torch" or "mxnet"
    input: str  # the kind of dataset it trains on: contracts.statuses.DATASET_KINDS
    description: str
    # What a trained model fixes and a fine-tune or evaluation must match.
    contract: tuple[str, ...] = ("regions", "node_features", "classes")
    # False: fitted in one step (no epochs, nothing to fine-tune), as the tangent-logreg baseline.
    iterative: bool = True
    image: ImageInput | None = None  # image networks: the input they take

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


SMALLEST_IMAGE_SIDE = 8  # no network takes a smaller image, before or after fitting
IMAGE_CHANNELS = (1, 3)  # what MXNet's image decoder gives: grey or colour


def image_shape_problems(name: str, max_size: int, c: int, h: int, w: int) -> list[str]:
    """Why the image network ``name`` (its ``ImageInput.max_size``) cannot be fed images of
    ``c`` channels, ``h``×``w`` (as stored, or as fitted to an asked shape); empty when it can."""
    problems = [] if c in IMAGE_CHANNELS else [f"{name} takes 1- or 3-channel images, got {c} channels"]
    if min(h, w) < SMALLEST_IMAGE_SIDE:
        problems.append(f"images of {h}×{w} are too small for any network ({SMALLEST_IMAGE_SIDE} pixels at least)")
    if max(h, w) > max_size:
        problems.append(f"{name} takes images of at most {max_size} pixels a side, got {h}×{w}")
    return problems


# MXNet image classifiers (MXServer's jobs), trained through POST /train by the MXNet worker;
# models.mxnet_backend.networks builds them from these entries.
_IMAGE_CONTRACT = ("classes", "image_shape")


def _image(name: str, aliases: tuple[str, ...], description: str, **image) -> ModelInfo:  # noqa: ANN003
    return ModelInfo(name, aliases, "mxnet", "image", description, _IMAGE_CONTRACT, image=ImageInput(**image))


_ZOO = dict(channels=3, default_size=224, min_size=32)
IMAGE_MODELS: tuple[ModelInfo, ...] = (
    _image("small-cnn", ("lenet", "smallcnn"),
           "Two conv(3×3)+BN+ReLU+maxpool blocks (32, 64 channels), global average pool, dense 128, "
           "dropout 0.3, dense classes. For 16–64 pixel images, 1 or 3 channels.",
           channels=None, default_size=28, min_size=16, max_size=128),
    _image("alexnet", (), "AlexNet (Gluon model zoo, random init); its weights fix the image size.",
           **{**_ZOO, "min_size": 64}, any_size=False),
    _image("resnet18_v1", ("resnet18",), "ResNet-18 v1 (Gluon model zoo).", **_ZOO),
    _image("resnet34_v1", ("resnet34",), "ResNet-34 v1 (Gluon model zoo).", **_ZOO),
    _image("resnet18_v2", (), "ResNet-18 v2, pre-activation (Gluon model zoo).", **_ZOO),
    _image("mobilenet1.0", ("mobilenet",), "MobileNet v1, width 1.0 (Gluon model zoo).", **_ZOO),
    _image("mobilenet0.25", (), "MobileNet v1, width 0.25 (Gluon model zoo).", **_ZOO),
    _image("mobilenetv2_1.0", ("mobilenetv2",), "MobileNet v2, width 1.0 (Gluon model zoo).", **_ZOO),
    _image("squeezenet1.1", ("squeezenet",), "SqueezeNet 1.1 (Gluon model zoo).", **{**_ZOO, "min_size": 224}),
)


_DETECTION_CONTRACT = ("class_names", "image_shape")


def _detector(name: str, aliases: tuple[str, ...], description: str, **image) -> ModelInfo:  # noqa: ANN003
    return ModelInfo(name, aliases, "mxnet", "detection", description, _DETECTION_CONTRACT, image=ImageInput(**image))


# GluonCV's SSD detectors under GluonCV's model-zoo names (MXServer's ``net.name``), trained from
# random weights (no pretrained download). Images are resized to the asked square shape (its
# default: the stored images' larger side, at least ``min_size``); the anchors are laid out for
# that size (models/mxnet_backend/detector_networks.py).
DETECTION_MODELS: tuple[ModelInfo, ...] = (
    _detector("ssd_300_mobilenet0.25_custom", ("ssd", "ssd_mobilenet0.25"),
              "SSD (GluonCV) on MobileNet v1 width 0.25, six feature scales; small enough to train on a "
              "CPU. Its anchors are laid out for the square size it is fed (GluonCV's preset is for 300).",
              channels=3, default_size=300, min_size=128),
    _detector("ssd_512_mobilenet1.0_custom", ("ssd_mobilenet1.0",),
              "SSD (GluonCV) on MobileNet v1 width 1.0; anchors laid out for the square size it is fed "
              "(GluonCV's preset is for 512).",
              channels=3, default_size=512, min_size=256),
    _detector("ssd_512_resnet50_v1_custom", ("ssd_resnet50",),
              "SSD (GluonCV) on ResNet-50 v1; anchors laid out for the square size it is fed (GluonCV's "
              "preset is for 512).",
              channels=3, default_size=512, min_size=256),
)


def all_models() -> tuple[ModelInfo, ...]:
    return CONNECTOME_MODELS + IMAGE_MODELS + DETECTION_MODELS


def find_model(name: str) -> ModelInfo | None:
    """The model registered under ``name`` or one of its aliases, any case; None if unknown."""
    wanted = str(name).strip().upper()
    for info in all_models():
        if wanted == info.name.upper() or wanted in (a.upper() for a in info.aliases):
            return info
    return None
