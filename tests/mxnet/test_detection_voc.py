"""Pascal VOC folders in a zip: what is accepted and stored, and every problem named with its file
and object."""

import pytest

mx = pytest.importorskip("mxnet")

import io  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402

from models.datasets.types import DatasetImportError  # noqa: E402
from models.mxnet_backend.archive import ImportLimits  # noqa: E402
from models.mxnet_backend.detection_importers import import_detection_upload  # noqa: E402
from models.mxnet_backend.detection_stats import detection_metadata  # noqa: E402
from tests.mxnet.builders import JPEG, corrupt_png, zip_of  # noqa: E402
from tests.mxnet.detection_files import noisy_png, voc_xml, voc_zip  # noqa: E402

ROOT = "VOCdevkit/VOC2007/"


def good_items() -> dict:
    return {
        "000001": (noisy_png(20, 40, 1), voc_xml(40, 20, [("dog", 0, 0, 20, 10), ("cat", 20, 10, 40, 20, 1)]), ".png"),
        "000002": (noisy_png(20, 40, 2), voc_xml(40, 20, [("dog", 4, 2, 12, 18)]), ".png"),
        "000003": (noisy_png(20, 40, 3), voc_xml(40, 20, []), ".png"),  # no objects: an empty image
    }


def upload(blob: bytes, **kw):
    return import_detection_upload({"voc.zip": blob}, **kw)


def problems_of(blob: bytes, **kw) -> list[str]:
    with pytest.raises(DatasetImportError) as info:
        upload(blob, **kw)
    return info.value.problems


def test_a_voc_folder_becomes_normalised_boxes_with_sorted_classes():
    sets = {"ImageSets/Main/train.txt": b"000001\n000003\n", "ImageSets/Main/val.txt": b"000002\n",
            "ImageSets/Main/dog_train.txt": b"000001  1\n000003 -1\n"}  # per-class list: skipped
    result = upload(voc_zip(good_items(), extra=sets))
    ds = result.dataset
    assert ds.class_names == ("cat", "dog") and ds.image_ids == ("000001", "000002", "000003")
    np.testing.assert_allclose(ds.boxes(0), [[1, 0, 0, 0.5, 0.5, 0], [0, 0.5, 0.5, 1, 1, 1]])
    np.testing.assert_allclose(ds.pixel_boxes(1), [[1, 4, 2, 12, 18, 0]])
    assert ds.boxes(2).shape == (0, 6)
    assert {k: v.tolist() for k, v in ds.image_sets.items()} == {"train": [0, 2], "val": [1]}
    meta = detection_metadata(ds)
    assert meta["box_counts"] == {"cat": 1, "dog": 2} and meta["empty_images"] == 1
    assert meta["difficult_boxes"] == 1 and meta["image_sets"] == {"train": 2, "val": 1}
    assert meta["box_size"]["width"] == {"min": 8.0, "median": 20.0, "mean": 16.0, "max": 20.0}
    assert meta["box_size"]["height"]["max"] == 16.0 and meta["box_size"]["scales"]["small"] == 3
    assert any("1 of 3 images have no boxes" in n for n in result.notes)


def test_images_of_other_sizes_are_resized_and_box_sizes_stay_in_uploaded_pixels():
    items = good_items()
    items["000004"] = (JPEG, voc_xml(10, 6, [("cat", 0, 0, 5, 6)]), ".jpg")  # 10×6 JPEG
    ds = upload(voc_zip(items), image_size=(20, 40)).dataset
    assert ds.image_shape == (20, 40, 3) and ds.original_sizes[3].tolist() == [6, 10]
    np.testing.assert_allclose(ds.boxes(3), [[0, 0, 0, 0.5, 1, 0]])
    assert detection_metadata(ds)["box_size"]["width"]["min"] == 5.0


def test_given_class_names_fix_the_order_and_refuse_unknown_names():
    extra = {"classes.txt": b"dog\ncat\nbird\n"}
    ds = upload(voc_zip(good_items(), extra=extra)).dataset
    assert ds.class_names == ("dog", "cat", "bird") and ds.boxes(0)[:, 0].tolist() == [0, 1]
    items = good_items()
    items["000002"] = (noisy_png(20, 40, 2), voc_xml(40, 20, [("dgo", 4, 2, 12, 18)]), ".png")
    assert problems_of(voc_zip(items, extra=extra)) == [
        f"{ROOT}Annotations/000002.xml object 1: class 'dgo' is not among the 3 given class names"]


def test_every_problem_is_named_with_its_file_and_object():
    items = good_items()
    items["000001"] = (noisy_png(20, 40, 1), voc_xml(40, 20, [
        ("dog", 0, 0, 20, 10), ("dog", 30, 5, 41, 10), ("cat", 10, 12, 5, 8), ("cat", -1, 0, 5, 21)]), ".png")
    items["000002"] = (noisy_png(20, 40, 2), voc_xml(30, 20, [("Dog ", 4, 2, 12, 18)]), ".png")
    items["000005"] = (corrupt_png(), voc_xml(4, 4, [("dog", 0, 0, 2, 2)]), ".png")
    items["000006"] = (noisy_png(8, 8, 6), b"<annotation><object>", ".png")
    items["000007"] = (noisy_png(8, 8, 7), voc_xml(8, 8, [("dog", 0, 0, "x", 2, 3)]), ".png")
    items["000008"] = (noisy_png(8, 8, 8), b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><annotation/>', ".png")
    problems = problems_of(voc_zip(items))
    xml = f"{ROOT}Annotations/"
    assert problems == [
        f"{xml}000001.xml object 2 (dog): xmax 41 outside the 40×20 image",
        f"{xml}000001.xml object 3 (cat): xmin 10 is not less than xmax 5",
        f"{xml}000001.xml object 3 (cat): ymin 12 is not less than ymax 8",
        f"{xml}000001.xml object 4 (cat): xmin -1, ymax 21 outside the 40×20 image",
        f"{xml}000002.xml: <size> says 30×20, the image is 40×20",
        f"{ROOT}JPEGImages/000005.png: unreadable image (decoding failed)",
        f"{xml}000006.xml: not well-formed XML (no element found: line 1, column 20)",
        f"{xml}000007.xml object 1 (dog): <bndbox> xmax missing or not a number",
        f"{xml}000007.xml object 1 (dog): <difficult> must be 0 or 1, got '3'",
        f"{xml}000008.xml: declares a DOCTYPE or an entity; VOC annotations never do, so it is not read",
    ], problems


def test_class_names_spelled_two_ways_are_refused():
    items = good_items()
    items["000002"] = (noisy_png(20, 40, 2), voc_xml(40, 20, [("Dog", 4, 2, 12, 18)]), ".png")
    assert problems_of(voc_zip(items)) == ["class names ['Dog', 'dog'] differ only by case or spaces; use one spelling"]


def test_missing_images_missing_annotations_and_stray_files_are_named():
    items = good_items()
    items["000009"] = (None, voc_xml(8, 8, []), ".png")
    items["000010"] = (noisy_png(8, 8, 10), None, ".png")
    extra = {"JPEGImages/notes.txt": b"hi", "JPEGImages/000001.jpg": JPEG, "ImageSets/Main/test.txt": b"000042\n"}
    problems = problems_of(voc_zip(items, extra=extra))
    assert problems == [
        f"{ROOT}JPEGImages/000001.png: a second file for id '000001' (the first is {ROOT}JPEGImages/000001.jpg)",
        f"{ROOT}JPEGImages/notes.txt: not a .png/.jpg/.jpeg file directly in {ROOT}JPEGImages/",
        f"{ROOT}Annotations/000009.xml: no image for it in {ROOT}JPEGImages/",
        f"{ROOT}JPEGImages/000010.png: no annotation {ROOT}Annotations/000010.xml",
    ], problems
    del items["000009"], items["000010"]
    assert problems_of(voc_zip(items, extra={"ImageSets/Main/test.txt": b"000042\n"})) == [
        f"{ROOT}ImageSets/Main/test.txt: 1 ids have no annotation: 000042"]


def test_archive_limits_hold_for_voc_uploads():
    problems = problems_of(voc_zip(good_items()), limits=ImportLimits(max_members=4))
    assert problems == ["archive has 8 members, more than the limit of 4"]
    assert problems_of(voc_zip(good_items()), limits=ImportLimits(max_boxes=2)) == [
        "3 boxes, more than the limit of 2"]


def test_a_zip_bomb_is_refused_before_anything_is_read():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ROOT}Annotations/000001.xml", voc_xml(8, 8, [("dog", 0, 0, 2, 2)]))
        zf.writestr(f"{ROOT}JPEGImages/000001.png", b"\0" * 5_000_000)
    problems = problems_of(buf.getvalue())
    assert problems and all("ratio" in p or "expand" in p for p in problems), problems
    assert any("000001.png" in p for p in problems), problems


def test_two_voc_folders_in_one_archive_are_refused():
    two = zip_of({"A/Annotations/": None, "A/JPEGImages/": None, "B/Annotations/": None, "B/JPEGImages/": None})
    assert problems_of(two) == ["the archive holds 2 VOC folders (A, B); upload one"]
