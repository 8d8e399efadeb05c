"""Valid DPABI zips and npz files load with the right values, labels, features and names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.datasets.dpabi import load_dpabi_zip, read_dpabi_subjects, subject_id_for
from models.datasets.importers import load_upload
from models.datasets.npz import load_npz
from models.datasets.types import ConnectomeDataset, DatasetImportError
from tests.models.dataset_builders import (
    FEATURES,
    LABELS,
    N_REGIONS,
    N_SUBJECTS,
    dpabi_members,
    feature_value,
    label_csv,
    matrices,
    matrix_text,
    member_name,
    npz_arrays,
    npz_bytes,
    subject_id,
    zip_bytes,
)

LIMITS = {"max_member_bytes": 1 << 20, "max_total_bytes": 1 << 24}


@pytest.mark.parametrize("table", [
    label_csv(labels=None, ids=[subject_id(i) for i in range(N_SUBJECTS)]),  # no LABEL column
    label_csv(labels=[""] * N_SUBJECTS),  # labels left empty
    label_csv(labels=["NC"] * N_SUBJECTS).replace("ID,LABEL", "ID,LABEL,SITE").replace(",NC,", ",NC,,"),
], ids=["no LABEL", "empty labels", "one class, empty sites"])
def test_a_dpabi_zip_to_predict_needs_no_labels_but_a_dataset_does(table):
    data = zip_bytes(dpabi_members(table=table))
    conn, features, ids = read_dpabi_subjects(data, **LIMITS)
    np.testing.assert_array_equal(conn, matrices())
    assert features.shape == (N_SUBJECTS, N_REGIONS, len(FEATURES))
    assert features[2, 3, 1] == np.float32(feature_value(2, 3, 1))
    assert ids == [subject_id(i) for i in range(N_SUBJECTS)]
    with pytest.raises(DatasetImportError) as exc:
        load_dpabi_zip(data, **LIMITS)
    assert any(p in str(exc.value) for p in ("no LABEL column", "missing label", "at least two classes",
                                              "empty group")), exc.value.problems


def test_a_dpabi_zip_to_predict_still_names_its_other_problems():
    members = dpabi_members(table=label_csv(labels=None, ids=[subject_id(i) for i in range(N_SUBJECTS)]))
    members[member_name(1)] = "1 2\n3\n"
    del members[member_name(4)]
    with pytest.raises(DatasetImportError) as exc:
        read_dpabi_subjects(zip_bytes(members), **LIMITS)
    text = str(exc.value)
    assert "ragged rows" in text and "subject 'sub005'" in text and "has no matrix file" in text


def test_dpabi_zip_values_labels_features():
    ds = load_dpabi_zip(zip_bytes(dpabi_members()), **LIMITS)
    assert ds.subjects == tuple(subject_id(i) for i in range(N_SUBJECTS))
    assert ds.class_names == ("NC", "SZ")
    assert ds.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert ds.labels.dtype == np.int64 and ds.conn.dtype == np.float32
    np.testing.assert_array_equal(ds.conn, matrices())
    assert ds.feature_names == FEATURES
    assert ds.features.shape == (N_SUBJECTS, N_REGIONS, len(FEATURES)) and ds.features.dtype == np.float32
    for i, r, f in [(0, 0, 0), (2, 3, 1), (5, 1, 0)]:
        assert ds.features[i, r, f] == pytest.approx(feature_value(i, r, f))


def test_dpabi_subjects_follow_csv_order_and_plain_file_names():
    members = {f"{subject_id(i)}.txt": matrix_text(m) for i, m in enumerate(matrices())}
    ids = [subject_id(i) for i in reversed(range(N_SUBJECTS))]
    members["labels.csv"] = label_csv(labels=list(reversed(LABELS)), features=(), ids=ids)
    ds = load_dpabi_zip(zip_bytes(members), **LIMITS)
    assert ds.subjects == tuple(ids)
    np.testing.assert_array_equal(ds.conn[0], matrices()[-1])
    assert ds.features is None and ds.n_features == 0 and ds.feature_names == ()


@pytest.mark.parametrize("labels, names, indices", [
    (["0", "1", "0", "1", "0", "1"], ("0", "1"), [0, 1, 0, 1, 0, 1]),
    (["2", "1", "2", "1", "2", "10"], ("1", "2", "10"), [1, 0, 1, 0, 1, 2]),  # numeric, not text, order
    (["1.0", "2", "1", "2", "1", "2"], ("1", "2"), [0, 1, 0, 1, 0, 1]),
    (["SZ", "NC", "BP", "NC", "SZ", "NC"], ("BP", "NC", "SZ"), [2, 1, 0, 1, 2, 1]),
])
def test_dpabi_label_encoding(labels, names, indices):
    members = dpabi_members()
    members["labels.csv"] = label_csv(labels=labels)
    ds = load_dpabi_zip(zip_bytes(members), **LIMITS)
    assert ds.class_names == names
    assert ds.labels.tolist() == indices


def test_dpabi_semicolon_csv_with_bom_and_lowercase_header_and_mac_junk():
    members = dpabi_members()
    members["labels.csv"] = "\ufeff" + label_csv().replace("ID,LABEL", "id,label").replace(",", ";")
    members["__MACOSX/ROISignals_FunImgARCWF/._ROICorrelation_FisherZ_sub001.txt"] = b"\x00\x05\x16\x07"
    members["ROISignals_FunImgARCWF/.DS_Store"] = b"\x00\x00\x00\x01Bud1"
    members["ROISignals_FunImgARCWF/"] = b""  # a directory entry
    ds = load_dpabi_zip(zip_bytes(members), **LIMITS)
    assert ds.n_subjects == N_SUBJECTS and ds.feature_names == FEATURES


def test_dpabi_tolerates_space_separated_and_blank_lines():
    members = dpabi_members()
    m = matrices()[0]
    members[member_name(0)] = "\n" + "\n\n".join("  ".join(f"{v:g}" for v in row) for row in m) + "\n\n"
    ds = load_dpabi_zip(zip_bytes(members), **LIMITS)
    np.testing.assert_allclose(ds.conn[0], m, atol=1e-5)


@pytest.mark.parametrize("stem, ids, expected", [
    ("sub001", {"sub001"}, "sub001"),
    ("ROICorrelation_FisherZ_sub001", {"sub001"}, "sub001"),
    ("ROICorrelation_FisherZ_sub_001", {"sub_001", "001"}, "sub_001"),  # the longest ID wins
    ("ROICorrelation_sub001x", {"sub001"}, None),
    ("xsub001", {"sub001"}, None),
])
def test_subject_id_rule(stem, ids, expected):
    assert subject_id_for(stem, ids) == expected


def test_npz_user_arrays_default_subjects_and_feature_names():
    arrays = npz_arrays()
    ds = load_npz(npz_bytes(**arrays))
    assert ds.subjects == tuple(f"sub-{i:04d}" for i in range(1, N_SUBJECTS + 1))
    assert ds.class_names == ("NC", "SZ") and ds.labels.tolist() == [0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(ds.conn, arrays["conn"])
    np.testing.assert_array_equal(ds.features, arrays["features"])
    assert ds.feature_names == ("feature_1", "feature_2", "feature_3")


def test_npz_integer_labels_subjects_and_fortran_order():
    conn = np.asfortranarray(matrices().astype(np.float64))
    labels = np.array([1, 2, 1, 2, 1, 2], dtype=np.int32)
    subjects = np.array([f"s{i}".encode() for i in range(N_SUBJECTS)])  # bytes strings
    ds = load_npz(npz_bytes(compressed=False, conn=conn, labels=labels, subjects=subjects))
    np.testing.assert_array_equal(ds.conn, matrices())
    assert ds.class_names == ("1", "2") and ds.labels.tolist() == [0, 1, 0, 1, 0, 1]
    assert ds.subjects == tuple(f"s{i}" for i in range(N_SUBJECTS))


def test_npz_text_labels_with_class_names_follow_the_given_order():
    ds = load_npz(npz_bytes(conn=matrices(), labels=np.array(LABELS), class_names=np.array(["SZ", "NC"])))
    assert ds.class_names == ("SZ", "NC") and ds.labels.tolist() == [1, 0, 1, 0, 1, 0]


def _dataset(features: bool) -> ConnectomeDataset:
    rng = np.random.default_rng(3)
    return ConnectomeDataset(
        conn=matrices(8),
        labels=np.array([2, 0, 1, 2, 0, 1, 2, 0], np.int64),
        subjects=tuple(f"p{i}" for i in range(8)),
        class_names=("SZ", "NC", "BP"),  # deliberately not sorted: must survive as stored
        features=rng.normal(size=(8, N_REGIONS, 2)).astype(np.float32) if features else None,
        feature_names=("GMV", "DC") if features else (),
    )


@pytest.mark.parametrize("features", [True, False])
def test_to_npz_bytes_round_trips_through_load_npz(features):
    ds = _dataset(features)
    back = load_npz(ds.to_npz_bytes())
    np.testing.assert_array_equal(back.conn, ds.conn)
    np.testing.assert_array_equal(back.labels, ds.labels)
    assert back.subjects == ds.subjects and back.class_names == ds.class_names
    assert back.feature_names == ds.feature_names
    if features:
        np.testing.assert_array_equal(back.features, ds.features)
    else:
        assert back.features is None


def test_load_upload_dispatches_by_extension():
    zipped = load_upload("Export.ZIP", zip_bytes(dpabi_members()), max_bytes=1 << 24)
    packed = load_upload("dir\\data.npz", npz_bytes(**npz_arrays()), max_bytes=1 << 24)
    assert zipped.feature_names == FEATURES and packed.feature_names[0] == "feature_1"


def test_dataset_package_stays_free_of_heavy_imports():
    code = ("import sys, models.datasets.importers, models.datasets.metadata, models.datasets.splits;"
            "bad = [m for m in ('torch', 'scipy', 'sklearn', 'pandas') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
