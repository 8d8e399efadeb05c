"""Uploads that are accepted, and exactly what they become."""

import numpy as np
import pytest

pytest.importorskip("mxnet")

from models.datasets.types import DatasetImportError  # noqa: E402
from models.mxnet_backend.demo import DEMO_CLASSES, DEMO_IMAGE_DATASET, make_demo_images  # noqa: E402
from models.mxnet_backend.images import ImageDataset, content_checksum, image_metadata  # noqa: E402
from models.mxnet_backend.importers import import_image_upload  # noqa: E402
from models.mxnet_backend.png import encode_png, peek_image_size  # noqa: E402
from tests.mxnet.builders import JPEG, pixels, png, recordio, tar_of, zip_of  # noqa: E402


def test_zip_of_class_folders_round_trips_pixels_and_sorts_classes():
    members = {"dog/a.png": png(value=1), "cat/b.png": png(value=2), "cat/a.png": png(value=3)}
    ds = import_image_upload({"pets.zip": zip_of(members)}).dataset
    assert ds.class_names == ("cat", "dog")
    assert ds.labels.tolist() == [0, 0, 1]  # cat/a, cat/b, dog/a
    assert ds.images.shape == (3, 8, 8, 3) and ds.images.dtype == np.uint8
    assert np.array_equal(ds.images[0], pixels(value=3))
    assert np.array_equal(ds.images[2], pixels(value=1))


def test_wrapping_folder_and_mac_junk_are_handled():
    members = {"pets/": None, "pets/cat/1.png": png(), "pets/dog/1.png": png(),
               "__MACOSX/pets/._cat": b"junk", "pets/cat/.DS_Store": b"junk"}
    ds = import_image_upload({"pets.zip": zip_of(members)}).dataset
    assert ds.class_names == ("cat", "dog") and ds.n_images == 2


def test_mixed_sizes_resized_to_most_common_with_a_note():
    members = {"cat/1.png": png(8, 8), "cat/2.png": png(8, 8), "dog/1.png": png(12, 10)}
    imported = import_image_upload({"pets.zip": zip_of(members)})
    assert imported.dataset.image_shape == (8, 8, 3)
    assert imported.notes == ["resized 1 of 3 images to 8×8: dog/1.png"]


def test_requested_size_and_grey_conversion():
    members = {"cat/1.png": png(8, 8), "dog/1.jpg": JPEG}
    imported = import_image_upload({"pets.zip": zip_of(members)}, channels=1, image_size=(6, 10))
    assert imported.dataset.image_shape == (6, 10, 1)
    assert "resized 1 of 2 images to 6×10: cat/1.png" in imported.notes[0]


def test_jpeg_is_decoded_as_rgb():
    ds = import_image_upload({"x.zip": zip_of({"a/1.jpg": JPEG, "b/1.jpeg": JPEG})}).dataset
    left, right = ds.images[0, 3, 1], ds.images[0, 3, 8]
    assert left[0] > 150 and left[2] < 80  # red
    assert right[2] > 150 and right[0] < 80  # blue


def test_tar_gz_of_class_folders():
    ds = import_image_upload({"pets.tar.gz": tar_of({"cat/1.png": png(), "dog/1.png": png(), "dog/2.png": png()})}).dataset
    assert ds.labels.tolist() == [0, 1, 1]


def test_recordio_pair_as_two_files_with_class_names():
    rec, idx = recordio([(1, png(value=5)), (0, png(value=6)), (1, png(value=7))])
    imported = import_image_upload({"train.rec": rec, "train.idx": idx, "synset.txt": b"cat\ndog\n"})
    ds = imported.dataset
    assert ds.class_names == ("cat", "dog") and ds.labels.tolist() == [1, 0, 1]
    assert np.array_equal(ds.images[1], pixels(value=6))


def test_recordio_pair_inside_a_zip_without_names():
    rec, idx = recordio([(0, png()), (2, png()), (1, png())])
    ds = import_image_upload({"data.zip": zip_of({"data/train.rec": rec, "data/train.idx": idx})}).dataset
    assert ds.class_names == ("0", "1", "2") and ds.labels.tolist() == [0, 2, 1]


def test_npz_upload_is_the_stored_form():
    ds = make_demo_images(per_class=3)
    again = import_image_upload({"d.npz": ds.to_npz_bytes()}).dataset
    assert np.array_equal(again.images, ds.images) and again.class_names == ds.class_names


def test_stored_form_rejects_garbage_and_broken_invariants():
    with pytest.raises(DatasetImportError, match="not a stored image dataset"):
        ImageDataset.from_npz_bytes(b"nope")
    bad = ImageDataset(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 5]), ("a", "b"))
    with pytest.raises(DatasetImportError, match="labels must lie in 0..1"):
        ImageDataset.from_npz_bytes(bad.to_npz_bytes())


def test_metadata_counts_and_checksum():
    ds = make_demo_images(per_class=5, seed=3)
    meta = image_metadata(ds)
    assert meta["n_images"] == 20 and meta["image_shape"] == [28, 28, 1] and meta["channels"] == 1
    assert meta["classes"] == list(DEMO_CLASSES) and set(meta["class_counts"].values()) == {5}
    assert meta["checksum"] == image_metadata(ImageDataset.from_npz_bytes(ds.to_npz_bytes()))["checksum"]
    changed = ImageDataset(ds.images.copy(), ds.labels, ds.class_names)
    changed.images[0, 0, 0, 0] ^= 1
    assert content_checksum(changed) != meta["checksum"]


def test_demo_is_deterministic_and_named():
    assert DEMO_IMAGE_DATASET == "demo_shapes_28"
    a, b = make_demo_images(per_class=4, seed=7), make_demo_images(per_class=4, seed=7)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert np.bincount(a.labels).tolist() == [4, 4, 4, 4]


def test_png_encoder_header_matches_shape():
    assert peek_image_size(encode_png(np.zeros((3, 5), np.uint8))) == (5, 3)
    with pytest.raises(ValueError):
        encode_png(np.zeros((3, 5, 2), np.uint8))
