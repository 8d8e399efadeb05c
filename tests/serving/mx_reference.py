"""Run in .venv-mxnet by tests/serving/test_mxnet_deploy.py (the torch venv has no MXNet):
``python -m tests.serving.mx_reference CHECKPOINT IMAGES.npy OUT.npy`` writes MXNet's own class
probabilities (the engine's input path and the network in inference mode) for the images."""

import sys
from pathlib import Path

import numpy as np

from models.mxnet_backend.onnx_export import mxnet_probabilities

if __name__ == "__main__":
    blob, images, out = sys.argv[1:4]
    np.save(out, mxnet_probabilities(Path(blob).read_bytes(), np.load(images)))
