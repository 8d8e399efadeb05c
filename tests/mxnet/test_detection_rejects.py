"""Bad im2rec detection uploads: every problem is named at once, with its record or .lst line and
object; MXNet's ImageDetIter would drop such boxes silently or fail mid-training."""

import pytest

mx = pytest.importorskip("mxnet")

from models.datasets.types import DatasetImportError  # noqa: E402
from models.mxnet_backend.archive import ImportLimits, read_archive  # noqa: E402
from models.mxnet_backend.detection_importers import import_detection_upload  # noqa: E402
from models.mxnet_backend.detection_labels import parse_detection_label  # noqa: E402
from models.mxnet_backend.import_detection_rec import import_detection_lst, import_detection_recordio  # noqa: E402
from tests.mxnet.builders import corrupt_png, zip_of  # noqa: E402
from tests.mxnet.detection_files import det_label, lst_text, noisy_png, write_recordio  # noqa: E402


def problems_of(call) -> list[str]:
    with pytest.raises(DatasetImportError) as info:
        call()
    return info.value.problems


@pytest.mark.parametrize(("raw", "expected"), [
    ([2], "label has 1 values"),
    ([1, 5, 0, 0.1, 0.1, 0.2, 0.2], "header width 1 must be an integer ≥ 2"),
    ([2.5, 5, 0, 0.1, 0.1, 0.2, 0.2], "header width 2.5"),
    ([2, 4, 0, 0.1, 0.1, 0.2], "object width 4 must be an integer ≥ 5"),
    ([9, 5, 0, 0.1], "header width 9 is more than the label's 4 values"),
    ([2, 5, 0, 0.1, 0.1, 0.2], "4 values after its 2-value header, not a multiple of the object width 5"),
    ([2, 5, 0, float("nan"), 0.1, 0.2, 0.2], "not a finite number"),
])
def test_a_bad_label_header_is_named(raw, expected):
    _, problems = parse_detection_label(raw, "record 4")
    assert len(problems) == 1 and problems[0].startswith("record 4: ") and expected in problems[0], problems


@pytest.mark.parametrize(("obj", "expected"), [
    ([0, 0.5, 0.1, 0.5, 0.2], "xmin 0.5 is not less than xmax 0.5"),
    ([0, 0.1, 0.6, 0.5, 0.2], "ymin 0.6 is not less than ymax 0.2"),
    ([0, -0.1, 0.1, 0.5, 0.2], "xmin -0.1 outside the image"),
    ([0, 0.1, 0.1, 1.5, 0.2], "xmax 1.5 outside the image"),
    ([1.5, 0.1, 0.1, 0.5, 0.2], "class id 1.5 is not a class index"),
    ([-1, 0.1, 0.1, 0.5, 0.2], "class id -1 is not a class index"),
    ([3, 0.1, 0.1, 0.5, 0.2], "class id 3 is unknown (3 class names given: ids 0..2)"),
    ([0, 0.1, 0.1, 0.5, 0.2, 2], "difficult flag 2 must be 0 or 1"),
])
def test_a_bad_object_is_named_with_its_position(obj, expected):
    good = [1, 0.0, 0.0, 1.0, 1.0] + [0] * (len(obj) - 5)
    _, problems = parse_detection_label([2, len(obj), *good, *obj], "record 4", n_classes=3)
    assert len(problems) == 1 and problems[0].startswith("record 4 object 2: ") and expected in problems[0], problems


def test_every_bad_record_is_named_at_once(tmp_path):
    records = [
        (0, det_label([(0, 0.1, 0.1, 0.5, 0.5)]), noisy_png(16, 16, 0)),  # good
        (1, 3.0, noisy_png(16, 16, 1)),  # a classification record
        (2, det_label([(0, 0.6, 0.1, 0.5, 0.5), (5, 0.1, 0.1, 0.2, 0.2)]), noisy_png(16, 16, 2)),
        (3, det_label([(1, 0.1, 0.1, 0.5, 0.5)]), corrupt_png()),
        (4, det_label([(1, 0.1, 0.1, 0.5, 0.5)]), b"not an image"),
    ]
    rec, idx = write_recordio(tmp_path, records)
    problems = problems_of(lambda: import_detection_recordio(rec.read_bytes(), idx.read_bytes(),
                                                             class_names=["a", "b"]))
    text = "\n".join(problems)
    assert "record 1: has a single class label 3" in text
    assert "record 2 object 1: xmin 0.6 is not less than xmax 0.5" in text
    assert "record 2 object 2: class id 5 is unknown" in text
    assert "record 3: " in text and "record 4: not a PNG or JPEG image" in text
    assert "record 0" not in text and len(problems) == 5, problems


def test_the_lst_and_the_idx_must_list_the_same_keys(tmp_path):
    rec, idx = write_recordio(tmp_path, [(k, 0.0, noisy_png(8, 8, k)) for k in (0, 1)])
    lst = lst_text([(0, det_label([(0, 0.1, 0.1, 0.5, 0.5)]), "a.png"),
                    (7, det_label([(0, 0.1, 0.1, 0.5, 0.5)]), "b.png")])
    problems = problems_of(lambda: import_detection_recordio(rec.read_bytes(), idx.read_bytes(), lst=lst))
    assert problems == ["record 1: the .idx lists it but the .lst has no line with index 1",
                        ".lst line 2: index 7 is not in the .idx"]


def test_bad_lst_lines_and_missing_images_are_named():
    lst = lst_text([(0, det_label([(0, 0.1, 0.1, 0.5, 0.5)]), "imgs/a.png"),
                    (1, det_label([(0, 0.1, 0.1, 0.5, 0.5)]), "imgs/missing.png"),
                    (2, det_label([(0, 0.1, 0.9, 0.5, 0.5)]), "imgs/b.png")])
    lst += b"3\tnot-a-number\timgs/c.png\n0\t2\t5\t0\t0\t0\t1\t1\timgs/a.png\njust one field\n"
    contents = read_archive(zip_of({"d/train.lst": lst, "d/imgs/a.png": noisy_png(8, 8, 0),
                                    "d/imgs/b.png": noisy_png(8, 8, 1)}))
    problems = problems_of(lambda: import_detection_lst(contents, "d/train.lst"))
    assert problems == [
        ".lst line 4: the index and label values must be numbers, got '3\\tnot-a-number\\timgs/c.png'",
        ".lst line 5: index 0 repeats an earlier line's",
        ".lst line 6: expected 'index<TAB>label…<TAB>path', got 'just one field'",
    ]
    contents.files["d/train.lst"] = lst.split(b"3\tnot")[0]
    problems = problems_of(lambda: import_detection_lst(contents, "d/train.lst"))
    assert problems == [".lst line 2 (imgs/missing.png): no such image in the archive (looked for d/imgs/missing.png)",
                        ".lst line 3 (imgs/b.png) object 1: ymin 0.9 is not less than ymax 0.5"]


def test_an_upload_without_any_box_is_refused(tmp_path):
    rec, idx = write_recordio(tmp_path, [(0, det_label([]), noisy_png(8, 8, 0))])
    assert problems_of(lambda: import_detection_recordio(rec.read_bytes(), idx.read_bytes())) == [
        "none of the 1 images has a box: a detection dataset needs at least one"]


def test_the_box_and_image_limits_hold(tmp_path):
    records = [(k, det_label([(0, 0.1, 0.1, 0.5, 0.5)] * 3), noisy_png(8, 8, k)) for k in range(3)]
    rec, idx = write_recordio(tmp_path, records)
    problems = problems_of(lambda: import_detection_recordio(rec.read_bytes(), idx.read_bytes(),
                                                             limits=ImportLimits(max_boxes=8)))
    assert problems == ["9 boxes, more than the limit of 8"]
    problems = problems_of(lambda: import_detection_recordio(rec.read_bytes(), idx.read_bytes(),
                                                             limits=ImportLimits(max_images=2)))
    assert problems == ["3 records, more than the limit of 2"]


def test_uploads_that_are_no_detection_form_are_named():
    assert "not a detection upload" in problems_of(
        lambda: import_detection_upload({"x.zip": zip_of({"cat/1.png": noisy_png(8, 8, 0)})}))[0]
    assert problems_of(lambda: import_detection_upload({"a.rec": b"", "b.lst": b""})) == [
        "RecordIO needs one .rec and one .idx, got ['a.rec']"]


def test_a_stored_form_that_breaks_the_invariants_is_refused():
    from models.mxnet_backend.detection_demo import make_demo_detection

    ds = make_demo_detection(n_images=10, seed=0)
    bad = ds.objects.copy()
    bad[0, 4] = bad[0, 2]  # xmax = xmin
    bad[1, 1] = 7  # an unknown class
    broken = type(ds)(ds.images, bad, ds.class_names, ds.image_ids, ds.original_sizes)
    assert problems_of(lambda: import_detection_upload({"d.npz": broken.to_npz_bytes()})) == [
        "objects: class ids must be integers in 0..2 (1 rows break it)",
        "objects: corners must satisfy 0 ≤ xmin < xmax ≤ 1 and 0 ≤ ymin < ymax ≤ 1 (1 rows break it)",
    ]
