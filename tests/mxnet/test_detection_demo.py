"""The demo detection dataset: its boxes are exactly its shapes' extents, it is deterministic, and
written as im2rec would write it, it imports back to itself."""

import pytest

mx = pytest.importorskip("mxnet")

import numpy as np  # noqa: E402

from models.mxnet_backend.detection_data import DetectionDataset  # noqa: E402
from models.mxnet_backend.detection_demo import (  # noqa: E402
    DEMO_DETECTION_CLASSES, DEMO_DETECTION_DATASET, make_demo_detection)
from models.mxnet_backend.detection_importers import import_detection_upload  # noqa: E402
from models.mxnet_backend.detection_stats import detection_metadata  # noqa: E402
from models.mxnet_backend.png import encode_png  # noqa: E402
from tests.mxnet.detection_files import det_label, write_recordio  # noqa: E402


def test_each_box_is_its_shape_extent_and_nothing_bright_lies_outside_boxes():
    ds = make_demo_detection(n_images=60, seed=3)
    for i in range(ds.n_images):
        bright = (ds.images[i] >= 120).all(axis=2)
        covered = np.zeros_like(bright)
        for _, x0, y0, x1, y1, _ in ds.pixel_boxes(i).round().astype(int):
            region = bright[y0:y1, x0:x1]
            assert region.any(axis=0)[[0, -1]].all() and region.any(axis=1)[[0, -1]].all()
            covered[y0:y1, x0:x1] = True
        assert not (bright & ~covered).any()


def test_the_demo_is_deterministic_and_has_empty_images_and_every_class():
    a, b = make_demo_detection(n_images=120, seed=7), make_demo_detection(n_images=120, seed=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.objects, b.objects)
    meta = detection_metadata(a)
    assert DEMO_DETECTION_DATASET == "demo_detection_shapes_64" and meta["image_shape"] == [64, 64, 3]
    assert meta["classes"] == list(DEMO_DETECTION_CLASSES) and min(meta["box_counts"].values()) > 0
    assert 0 < meta["empty_images"] < 30 and meta["boxes_per_image"]["max"] <= 3


def test_the_demo_written_as_im2rec_would_imports_back_to_itself(tmp_path):
    ds = make_demo_detection(n_images=20, seed=1)
    records = [(i, det_label(b[:, :5].tolist()), encode_png(ds.images[i])) for i, b in enumerate(ds.all_boxes())]
    rec, idx = write_recordio(tmp_path, records)
    names = "\n".join(ds.class_names).encode()
    back = import_detection_upload({"d.rec": rec.read_bytes(), "d.idx": idx.read_bytes(), "classes.txt": names}).dataset
    np.testing.assert_array_equal(back.images, ds.images)
    np.testing.assert_array_equal(back.objects, ds.objects)
    assert isinstance(DetectionDataset.from_npz_bytes(ds.to_npz_bytes()), DetectionDataset)
