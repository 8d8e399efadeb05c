"""im2rec detection data (``.rec``/``.idx``, ``.lst``) read by trainyard and by MXNet's own
``mxnet.image.ImageDetIter`` from the same files: the same images, the same boxes."""

import pytest

mx = pytest.importorskip("mxnet")

import numpy as np  # noqa: E402

from models.mxnet_backend.archive import read_archive  # noqa: E402
from models.mxnet_backend.detection_importers import import_detection_upload  # noqa: E402
from models.mxnet_backend.import_detection_rec import import_detection_lst, import_detection_recordio  # noqa: E402
from tests.mxnet.builders import zip_of  # noqa: E402
from tests.mxnet.detection_files import det_label, lst_text, noisy_png, write_recordio  # noqa: E402

H, W = 24, 32
OBJECTS = {  # key → objects (class, xmin, ymin, xmax, ymax, difficult), normalised
    0: [(0, 0.1, 0.2, 0.5, 0.6, 0), (2, 0.5, 0.0, 1.0, 1.0, 1)],
    1: [(1, 0.25, 0.25, 0.75, 0.5, 0)],
    2: [(0, 0.0, 0.0, 0.125, 0.25, 0), (1, 0.3, 0.3, 0.6, 0.9, 0), (2, 0.7, 0.1, 0.9, 0.3, 0)],
}


def mxnet_reads(**files) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Images (H×W×C) and boxes (padding rows dropped) as ImageDetIter yields them, one a batch."""
    it = mx.image.ImageDetIter(batch_size=1, data_shape=(3, H, W), aug_list=[], **files)
    images, boxes = [], []
    for batch in it:
        label = batch.label[0].asnumpy()[0]
        boxes.append(label[label[:, 0] >= 0])
        images.append(batch.data[0].asnumpy()[0].transpose(1, 2, 0))
    return images, boxes


def test_rec_and_idx_give_the_boxes_image_det_iter_reads(tmp_path):
    pngs = {k: noisy_png(H, W, seed=k) for k in OBJECTS}
    records = [(k, det_label(objs, width=6, extra_header=(W, H)), pngs[k]) for k, objs in OBJECTS.items()]
    rec, idx = write_recordio(tmp_path, records)
    ours = import_detection_recordio(rec.read_bytes(), idx.read_bytes(), class_names=["a", "b", "c"]).dataset
    theirs_images, theirs_boxes = mxnet_reads(path_imgrec=str(rec), path_imgidx=str(idx))
    assert ours.n_images == len(theirs_boxes) == 3 and ours.class_names == ("a", "b", "c")
    for i in range(3):
        np.testing.assert_allclose(ours.boxes(i), theirs_boxes[i], atol=1e-6)
        np.testing.assert_array_equal(ours.images[i], theirs_images[i].astype(np.uint8))
    assert ours.image_ids == ("record 0", "record 1", "record 2")


def test_a_lst_beside_the_rec_gives_the_labels_as_image_det_iter_takes_them(tmp_path):
    pngs = {k: noisy_png(H, W, seed=10 + k) for k in OBJECTS}
    rec, idx = write_recordio(tmp_path, [(k, 0.0, pngs[k]) for k in OBJECTS])  # scalar labels: overridden
    lst = tmp_path / "det.lst"
    lst.write_bytes(lst_text([(k, det_label(objs, width=6), f"img{k}.png") for k, objs in OBJECTS.items()]))
    result = import_detection_recordio(rec.read_bytes(), idx.read_bytes(), lst=lst.read_bytes())
    _, theirs = mxnet_reads(path_imgrec=str(rec), path_imgidx=str(idx), path_imglist=str(lst))
    for i in range(3):
        np.testing.assert_allclose(result.dataset.boxes(i), theirs[i], atol=1e-6)
    assert result.dataset.class_names == ("0", "1", "2")
    assert any("labels read from the .lst" in n for n in result.notes)


def test_a_lst_with_its_images_in_a_zip_reads_as_image_det_iter_reads_the_folder(tmp_path):
    root = tmp_path / "root"
    (root / "imgs").mkdir(parents=True)
    entries = []
    for k, objs in OBJECTS.items():
        (root / "imgs" / f"{k}.png").write_bytes(noisy_png(H, W, seed=20 + k))
        entries.append((k, det_label(objs, width=6), f"imgs/{k}.png"))
    (root / "train.lst").write_bytes(lst_text(entries))
    members = {f"data/{p.relative_to(root)}": p.read_bytes() for p in root.rglob("*") if p.is_file()}
    ours = import_detection_lst(read_archive(zip_of(members)), "data/train.lst").dataset
    images, theirs = mxnet_reads(path_imglist=str(root / "train.lst"), path_root=str(root))
    for i in range(3):
        np.testing.assert_allclose(ours.boxes(i), theirs[i], atol=1e-6)
        np.testing.assert_array_equal(ours.images[i], images[i].astype(np.uint8))
    assert ours.image_ids == ("imgs/0.png", "imgs/1.png", "imgs/2.png")


def test_images_without_boxes_and_padding_rows_are_accepted_and_counted(tmp_path):
    records = [(0, det_label([]), noisy_png(H, W, 1)),
               (1, det_label([(1, 0.1, 0.1, 0.4, 0.4), (-1, -1, -1, -1, -1)]), noisy_png(H, W, 2))]
    rec, idx = write_recordio(tmp_path, records)
    result = import_detection_upload({"d.rec": rec.read_bytes(), "d.idx": idx.read_bytes()})
    assert [len(b) for b in result.dataset.all_boxes()] == [0, 1]
    assert any("1 of 2 images have no boxes" in n for n in result.notes)
    assert any("classes have no boxes: 0" in n for n in result.notes)  # ids 0..1 named "0", "1"


def test_rec_idx_lst_and_classes_inside_one_zip(tmp_path):
    rec, idx = write_recordio(tmp_path, [(k, det_label(o, width=6), noisy_png(H, W, k)) for k, o in OBJECTS.items()])
    blob = zip_of({"set/d.rec": rec.read_bytes(), "set/d.idx": idx.read_bytes(), "set/classes.txt": b"cat\ndog\ncow\n"})
    ds = import_detection_upload({"set.zip": blob}).dataset
    assert ds.class_names == ("cat", "dog", "cow") and ds.n_objects == 6


def test_the_stored_form_round_trips_through_the_npz_upload(tmp_path):
    rec, idx = write_recordio(tmp_path, [(k, det_label(o, width=6), noisy_png(H, W, k)) for k, o in OBJECTS.items()])
    ds = import_detection_recordio(rec.read_bytes(), idx.read_bytes()).dataset
    again = import_detection_upload({"d.npz": ds.to_npz_bytes()}).dataset
    np.testing.assert_array_equal(again.objects, ds.objects)
    np.testing.assert_array_equal(again.images, ds.images)
    assert again.image_ids == ds.image_ids and again.class_names == ds.class_names
    np.testing.assert_allclose(again.pixel_boxes(0)[0, 1:5], [0.1 * W, 0.2 * H, 0.5 * W, 0.6 * H], rtol=1e-6)
