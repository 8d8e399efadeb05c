"""Run in .venv-mxnet by tests/service/test_detection_serving.py (the torch venv has no MXNet):
``python -m tests.serving.mx_detect_reference CHECKPOINT IMAGES.npy OUT.npz`` writes the
detection engine's own detections (``detector.detect``: GluonCV's resize, the SSD with its NMS,
corners in each image's pixels) for (N, H, W, 3) uint8 images: ``boxes_i``, ``classes_i``,
``scores_i`` per image i."""

import sys
from pathlib import Path

import mxnet as mx
import numpy as np

from models.mxnet_backend.detection_data import DetectionDataset
from models.mxnet_backend.detector import detect
from models.mxnet_backend.detector_export import load_network

if __name__ == "__main__":
    blob, images, out = sys.argv[1:4]
    pictures = np.load(images)
    meta, net = load_network(Path(blob).read_bytes())
    n, h, w, _ = pictures.shape
    ds = DetectionDataset(pictures, np.zeros((0, 7), np.float32), meta.class_names, tuple(map(str, range(n))),
                          np.array([[h, w]] * n, np.int64))
    found = detect(net, ds, meta.image_shape[0], meta.image_shape[1], mx.cpu(), 32)
    arrays = {}
    for i, d in enumerate(found):
        arrays.update({f"boxes_{i}": np.nan_to_num(d.boxes), f"classes_{i}": d.labels, f"scores_{i}": d.scores})
    np.savez(out, **arrays)
