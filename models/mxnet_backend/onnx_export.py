"""Export a trained MXNet image classifier (a checkpoint blob) to ONNX with its input fitting
inside the graph, and verify the export against MXNet itself.

The exported graph takes what a client's decoded image is: ``image``, (N, H, W, C) float32 pixel
values 0..255 at the size and channel count the task was trained on. It does what
``loop.to_input`` does (NHWC → NCHW, ``/255 − 0.5``, ``networks.fit_batch``: grey repeated to 3
channels for a zoo network, bilinear upsampling below its ``min_size``), then the network, and
answers ``probabilities`` (N, classes), the softmax of its outputs.

A task whose images were fitted to an asked ``data_shape`` (fitting.py) is exported at that
shape: the served model takes the asked size and channels, and its verification fits the
task's images as the training did.

Verification runs onnxruntime and MXNet (``to_input`` + the network, inference mode) on the
task's own images and records the largest absolute difference between their probabilities and
whether every image's predicted class agrees.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import gluon

from models.mxnet_backend.checkpoint import load_params, unpack_checkpoint
from models.mxnet_backend.fitting import fit_images
from models.mxnet_backend.images import ImageDataset
from models.mxnet_backend.loop import batches, to_input
from models.mxnet_backend.networks import MxNetInfo, build_network, find_network

TOLERANCE = 1e-4  # probabilities; both sides compute in float32
INPUT, OUTPUT = "image", "probabilities"


class ExportFailed(RuntimeError):
    """The network cannot be exported, or its export does not match MXNet."""


class RawImages(gluon.HybridBlock):
    """(N, H, W, C) pixel values → class probabilities: ``to_input`` and the network in one graph."""

    def __init__(self, net: gluon.HybridBlock, info: MxNetInfo, image_shape: tuple[int, int, int]):
        super().__init__()
        h, w, c = image_shape
        self.net = net
        self.repeat = info.channels == 3 and c == 1
        scale = info.min_size / min(h, w)
        self.size = (round(h * scale), round(w * scale)) if min(h, w) < info.min_size else None

    def hybrid_forward(self, F, x):  # noqa: N803 - Gluon's name for the op namespace
        x = F.transpose(x, axes=(0, 3, 1, 2)) / 255.0 - 0.5
        if self.repeat:
            x = F.concat(x, x, x, dim=1)
        if self.size is not None:
            x = F.contrib.BilinearResize2D(x, height=self.size[0], width=self.size[1])
        return F.softmax(self.net(x), axis=1)


@dataclass(frozen=True)
class Exported:
    onnx: bytes
    contract: dict  # backend, model, classes, class_names, image_shape, preprocessing, inputs, outputs


def _network(blob: bytes):
    ckpt = unpack_checkpoint(blob)
    info = find_network(ckpt.meta.network)
    net = build_network(info.name, len(ckpt.meta.class_names))
    load_params(net, ckpt.params, mx.cpu())
    return ckpt.meta, info, net


def export_checkpoint(blob: bytes) -> Exported:
    """The ONNX file of a checkpoint blob. Raises ExportFailed (an operator mx2onnx cannot
    convert), CheckpointError."""
    meta, info, net = _network(blob)
    h, w, c = meta.image_shape
    onnx = renamed(mx2onnx(RawImages(net, info, meta.image_shape), meta.network, (h, w, c)))
    return Exported(onnx, _contract(meta, info))


def mx2onnx(wrapper: gluon.HybridBlock, network: str, image_shape: tuple[int, int, int]) -> bytes:
    """The ONNX file mx2onnx makes of ``wrapper``, which takes (N, H, W, C) images of
    ``image_shape`` (any N). Raises ExportFailed naming ``network`` when mx2onnx cannot."""
    h, w, c = image_shape
    wrapper.hybridize(static_alloc=False)
    wrapper(mx.nd.zeros((1, h, w, c)))
    with tempfile.TemporaryDirectory(prefix="trainyard-mx-onnx-") as tmp:
        prefix = str(Path(tmp, "net"))
        wrapper.export(prefix, epoch=0)
        path = Path(tmp, "net.onnx")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # mx2onnx's use of onnx.mapping
                mx.onnx.export_model(f"{prefix}-symbol.json", f"{prefix}-0000.params", in_shapes=[(1, h, w, c)],
                                     in_types=[np.float32], onnx_file_path=str(path), dynamic=True,
                                     dynamic_input_shapes=[(None, h, w, c)])
        except Exception as exc:  # noqa: BLE001 - mx2onnx raises AttributeError/KeyError for unknown ops
            raise ExportFailed(f"mx2onnx cannot convert {network}: {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:300] if str(exc) else ''}") from exc
        return path.read_bytes()


def renamed(data: bytes, output: str = OUTPUT) -> bytes:
    """The graph's one input and output named ``image`` and ``output`` (``probabilities``), as
    the contract says; parameters only as initializers, and only those some node uses."""
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    params = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in params]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ExportFailed(f"the exported graph has {len(inputs)} inputs and {len(graph.output)} outputs, not 1 and 1")
    names = {inputs[0].name: INPUT, graph.output[0].name: output}
    kept = onnx.ValueInfoProto()
    kept.CopyFrom(inputs[0])
    kept.name = INPUT
    # mx2onnx lists every parameter as a graph input too, which makes onnxruntime treat them as
    # overridable and skip constant folding: the parameters are initializers only
    del graph.input[:]
    graph.input.append(kept)
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    graph.output[0].name = output
    used = {n for node in graph.node for n in node.input}
    unused = [t for t in graph.initializer if t.name not in used]  # mx2onnx's leftovers (softmax axes)
    for t in unused:
        graph.initializer.remove(t)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _contract(meta, info: MxNetInfo) -> dict:
    h, w, c = meta.image_shape
    k = len(meta.class_names)
    return {
        "backend": "mxnet", "model": meta.network, "input": "image", "classes": k,
        "class_names": list(meta.class_names), "image_shape": [h, w, c],
        "preprocessing": {"decode": "PNG/JPEG → " + ("grey" if c == 1 else "RGB") + f", resized to {h}×{w}",
                          "training_fitting": _training_fitting(meta),
                          "normalisation": "pixel / 255 − 0.5, NCHW",
                          "network_input": _network_input(info, meta.image_shape),
                          "where": "inside the ONNX graph: send (N, H, W, C) pixel values 0..255"},
        "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, h, w, c]}],
        "outputs": [{"name": OUTPUT, "datatype": "FP32", "shape": [-1, k]}],
    }


def _training_fitting(meta) -> str:
    if not meta.fitted:
        return "none: the network was trained on images of this shape"
    return (f"the task's images were fitted to {meta.image_shape[2]}×{meta.image_shape[0]}×{meta.image_shape[1]} "
            f"(C×H×W) as MXNet's ImageIter does: the task result's input_fitting")


def _network_input(info: MxNetInfo, image_shape) -> str:
    h, w, c = image_shape
    steps = []
    if info.channels == 3 and c == 1:
        steps.append("grey repeated to 3 channels")
    if min(h, w) < info.min_size:
        steps.append(f"bilinear upsampling to {info.min_size} pixels (shorter side)")
    return ", ".join(steps) or "as is"


def fitted_images(blob: bytes, images: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 ``images`` fitted as the checkpoint's training fitted its own (as is
    when it fitted none)."""
    return fit_images(images, unpack_checkpoint(blob).meta.data_shape())


def mxnet_probabilities(blob: bytes, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """MXNet's own class probabilities for (N, H, W, C) uint8 ``images`` at the network's input
    shape (the engine's ``to_input`` and the network in inference mode)."""
    meta, info, net = _network(blob)
    net.hybridize()
    ds = ImageDataset(images, np.zeros(len(images), dtype=np.int64), meta.class_names)
    out = [mx.nd.softmax(net(to_input(images[idx], info, mx.cpu())), axis=1).asnumpy()
           for idx in batches(ds, batch_size, None)]
    return np.concatenate(out).astype(np.float32)


def onnx_probabilities(onnx: bytes, images: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    return session.run([OUTPUT], {INPUT: images.astype(np.float32)})[0]


def verify(blob: bytes, exported: Exported, ds: ImageDataset, role: str, tolerance: float = TOLERANCE) -> dict:
    """The verification record; raises ExportFailed when onnxruntime and MXNet differ by more
    than ``tolerance`` on any probability of the task's ``role`` images."""
    if ds.n_images == 0:
        raise ExportFailed("no images to verify the export on")
    images = fitted_images(blob, ds.images)
    want = mxnet_probabilities(blob, images)
    got = onnx_probabilities(exported.onnx, images)
    diff = float(np.max(np.abs(want - got)))
    same = int((want.argmax(1) == got.argmax(1)).sum())
    record = {"max_abs_diff": diff, "tolerance": tolerance, "n_subjects": ds.n_images, "subjects": role,
              "same_class": same,
              "compared": "class probabilities: onnxruntime vs MXNet (Gluon, inference mode)"}
    if not diff <= tolerance:
        raise ExportFailed(f"the ONNX export differs from MXNet by {diff:.3g} (tolerance {tolerance}) "
                           f"on the task's {role} images; {same} of {ds.n_images} predicted the same class")
    return record
