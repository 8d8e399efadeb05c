"""Every way an image upload is refused, each with the message that names what is wrong."""

import pytest

pytest.importorskip("mxnet")

from models.datasets.types import DatasetImportError
from models.mxnet_backend.archive import ImportLimits
from models.mxnet_backend.import_recordio import import_recordio
from models.mxnet_backend.importers import import_image_upload
from tests.mxnet.builders import JPEG, corrupt_png, huge_header_png, png, recordio, tar_of, zip_of

GOOD = {"cat/1.png": png(), "dog/1.png": png(value=9)}

FOLDER_CASES = [
    ("garbage bytes", {**GOOD, "cat/2.png": b"hello"}, "cat/2.png: not a PNG or JPEG image"),
    ("truncated png", {**GOOD, "cat/2.png": png()[:60]}, "cat/2.png: image data is truncated"),
    ("corrupt pixel data", {**GOOD, "dog/2.png": corrupt_png()}, "dog/2.png: unreadable image (decoding failed)"),
    ("truncated jpeg", {**GOOD, "dog/2.jpg": JPEG[: len(JPEG) // 2]}, "dog/2.jpg: image data is truncated"),
    ("empty class folder", {**GOOD, "bird/": None}, "bird/: class folder holds no images"),
    ("single class", {"cat/1.png": png(), "cat/2.png": png()}, "at least 2 classes, found 1"),
    ("no images at all", {"readme/": None}, "at least 2 classes, found 1"),
    ("path traversal", {**GOOD, "cat/../../evil.png": png()}, "cat/../../evil.png: '..' in path (path traversal)"),
    ("absolute path", {**GOOD, "/etc/cat/x.png": png()}, "/etc/cat/x.png: absolute path"),
    ("non-image extension", {**GOOD, "cat/notes.txt": b"x"}, "cat/notes.txt: not a PNG or JPEG file"),
    ("image outside class folder", {**GOOD, "loose.png": png()}, "loose.png: images must sit directly in a class folder"),
    ("nested folder", {**GOOD, "cat/sub/1.png": png()}, "cat/sub/1.png: images must sit directly in a class folder"),
    ("oversized image header", {**GOOD, "dog/big.png": huge_header_png()}, "dog/big.png: image is 5000×5000 pixels"),
]


@pytest.mark.parametrize("members, message", [c[1:] for c in FOLDER_CASES], ids=[c[0] for c in FOLDER_CASES])
def test_folder_zip_rejected_naming_the_member(members, message):
    with pytest.raises(DatasetImportError) as err:
        import_image_upload({"up.zip": zip_of(members)})
    assert any(message in p for p in err.value.problems), err.value.problems


def test_every_problem_is_reported_not_just_the_first():
    members = {**GOOD, "cat/a.png": b"junk", "dog/b.png": b"junk", "fish/": None}
    with pytest.raises(DatasetImportError) as err:
        import_image_upload({"up.zip": zip_of(members)})
    assert any("fish/" in p for p in err.value.problems)  # layout problems come first, in one report
    with pytest.raises(DatasetImportError) as err:
        import_image_upload({"up.zip": zip_of({**GOOD, "cat/a.png": b"junk", "dog/b.png": b"junk"})})
    assert [p.split(":")[0] for p in err.value.problems] == ["cat/a.png", "dog/b.png"]


LIMIT_CASES = [
    ("upload bytes", ImportLimits(max_upload_bytes=100), "upload is"),
    ("total unpacked bytes", ImportLimits(max_total_bytes=100), "unpacks to"),
    ("member count", ImportLimits(max_members=1), "members, more than the limit of 1"),
    ("image count", ImportLimits(max_images=1), "2 images, more than the limit of 1"),
    ("pixels per image", ImportLimits(max_image_pixels=63), "image is 8×8 pixels, more than the limit of 63"),
]


@pytest.mark.parametrize("limits, message", [c[1:] for c in LIMIT_CASES], ids=[c[0] for c in LIMIT_CASES])
def test_oversized_uploads_rejected(limits, message):
    with pytest.raises(DatasetImportError) as err:
        import_image_upload({"up.zip": zip_of(GOOD)}, limits=limits)
    assert any(message in p for p in err.value.problems), err.value.problems


def test_tar_with_a_symlink_is_rejected():
    blob = tar_of({"cat/1.png": png(), "dog/1.png": png()}, symlink="cat/link.png")
    with pytest.raises(DatasetImportError, match="cat/link.png: links and special files are not accepted"):
        import_image_upload({"up.tar.gz": blob})


def test_tar_path_traversal_is_rejected():
    blob = tar_of({"cat/1.png": png(), "../dog/1.png": png()})
    with pytest.raises(DatasetImportError, match=r"\.\./dog/1\.png: '\.\.' in path"):
        import_image_upload({"up.tgz": blob})


def test_not_an_archive():
    with pytest.raises(DatasetImportError, match="not a readable zip or tar archive"):
        import_image_upload({"up.zip": b"PK but not really a zip file at all"})


def test_unrecognised_set_of_files():
    with pytest.raises(DatasetImportError, match="expected one archive"):
        import_image_upload({"a.png": png(), "b.png": png()})


def _rec(records):
    return recordio(records)


REC_CASES = [
    ("vector label", [(0, png()), (1, png()), ([1.0, 2.0, 3.0, 4.0], png())], None,
     "record 2: has a 4-value label"),
    ("fractional label", [(0, png()), (1.5, png())], None, "record 1: label 1.5 is not a class index"),
    ("unreadable image", [(0, png()), (1, b"not an image")], None, "record 1: not a PNG or JPEG image"),
    ("corrupt image", [(0, png()), (1, corrupt_png())], None, "record 1: unreadable image (decoding failed)"),
    ("label without a name", [(0, png()), (2, png())], ["a", "b"], "label 2 has no class name (2 names given)"),
    ("class with no records", [(0, png()), (2, png())], None, "class '1' (label 1) has no records"),
    ("named class with no records", [(0, png()), (1, png())], ["a", "b", "c"], "class 'c' (label 2) has no records"),
    ("single class", [(0, png()), (0, png())], None, "at least 2 classes, found 1"),
]


@pytest.mark.parametrize("records, names, message", [c[1:] for c in REC_CASES], ids=[c[0] for c in REC_CASES])
def test_recordio_rejected_naming_the_record(records, names, message):
    rec, idx = _rec(records)
    with pytest.raises(DatasetImportError) as err:
        import_recordio(rec, idx, class_names=names)
    assert any(message in p for p in err.value.problems), err.value.problems


def _good_pair():
    return _rec([(0, png()), (1, png()), (1, png())])


IDX_CASES = [
    ("not numbers", lambda rec, idx: idx.replace(b"1\t", b"one\t", 1), ".idx line 2: expected 'key<TAB>offset'"),
    ("offset past the end", lambda rec, idx: idx + b"7\t999999\n", ".idx line 4: bad entry"),
    ("duplicate key", lambda rec, idx: idx + idx.splitlines(keepends=True)[0], ".idx line 4: bad entry"),
    ("offset inside a record", lambda rec, idx: idx + b"9\t8\n", ".idx line 4: offset 8 does not start a record"),
    ("empty index", lambda rec, idx: b"\n", ".idx lists no records"),
]


@pytest.mark.parametrize("mangle, message", [c[1:] for c in IDX_CASES], ids=[c[0] for c in IDX_CASES])
def test_bad_index_rejected_naming_the_line(mangle, message):
    rec, idx = _good_pair()
    with pytest.raises(DatasetImportError) as err:
        import_recordio(rec, mangle(rec, idx))
    assert any(message in p for p in err.value.problems), err.value.problems


def test_recordio_archive_needs_exactly_one_pair():
    rec, idx = _good_pair()
    with pytest.raises(DatasetImportError, match="exactly one .rec and one .idx"):
        import_image_upload({"up.zip": zip_of({"a.rec": rec, "b.rec": rec, "a.idx": idx})})


def test_recordio_class_names_file_with_duplicates():
    rec, idx = _good_pair()
    with pytest.raises(DatasetImportError, match="repeats a name"):
        import_image_upload({"d.rec": rec, "d.idx": idx, "classes.txt": b"a\na\n"})


def test_recordio_upload_too_large():
    rec, idx = _good_pair()
    with pytest.raises(DatasetImportError, match="upload is"):
        import_recordio(rec, idx, limits=ImportLimits(max_upload_bytes=10))
