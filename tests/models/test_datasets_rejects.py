"""Every importer rejects each kind of bad file with a message naming the subject or member."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from models.datasets.dpabi import load_dpabi_zip
from models.datasets.importers import load_upload
from models.datasets.npz import load_npz
from models.datasets.types import DatasetImportError
from tests.models.dataset_builders import (
    LABELS,
    dpabi_members,
    label_csv,
    matrices,
    matrix_text,
    member_name,
    npz_arrays,
    npz_bytes,
    subject_id,
    zip_bytes,
)

MIB = 1 << 20
LIMITS = {"max_member_bytes": 64 * MIB, "max_total_bytes": 256 * MIB}


def _problems(call) -> list[str]:
    with pytest.raises(DatasetImportError) as info:
        call()
    assert info.value.problems, "a rejection must say why"
    return info.value.problems


def _assert_mentions(problems: list[str], *fragments: str) -> None:
    text = "\n".join(problems)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"


# ------------------------------------------------------------------ DPABI zip


def _with(**changes):
    """Members of the valid layout with some replaced (None removes one)."""
    members = dpabi_members()
    for name, content in changes.items():
        members.pop(name, None)
        if content is not None:
            members[name] = content
    return members


def _matrix(i: int, text: str) -> dict:
    return {member_name(i): text}


def _replace(i: int, m) -> dict:
    return _matrix(i, matrix_text(m))


def _bad_value(value: str, at=(0, 1)) -> dict:
    m = matrices()[1].astype(object)
    m[at] = value
    return _matrix(1, "\n".join(" ".join(str(v) for v in row) for row in m))


M = matrices()
DPABI_CASES = {
    "non-square": (_replace(1, M[1][:, :3]), ["subject 'sub002'", "matrix is 4x3, not square"]),
    "mixed sizes": (_replace(1, matrices(r=5)[1]), ["subject 'sub002'", "matrix is 5x5, the others are 4x4"]),
    "nan": (_bad_value("nan"), ["subject 'sub002'", "1 non-finite values"]),
    "inf": (_bad_value("inf"), ["subject 'sub002'", "1 non-finite values"]),
    "beyond float32": (_bad_value("1e300"), ["subject 'sub002'", "beyond float32 range"]),
    "inf diagonal": (_bad_value("inf", at=(2, 2)), ["subject 'sub002'", "all on the diagonal"]),
    "feature rows != regions": ({"labels.csv": label_csv(regions=3)},
                                ["feature 'GMV' has 3 region columns but the matrices have 4 regions"]),
    "feature gap": ({"labels.csv": label_csv().replace("GMV_2", "GMV_7")},
                    ["feature 'GMV' has region columns [1, 3, 4, 7]"]),
    "feature not a number": ({"labels.csv": label_csv().replace(",1.0,", ",abc,", 1)},
                             ["subject 'sub001'", "GMV_2 value 'abc' is not a number"]),
    "missing label": ({"labels.csv": label_csv().replace("sub002,SZ", "sub002,")},
                      ["subject 'sub002'", "missing label"]),
    "matrix without CSV row": (_matrix(6, matrix_text(M[0])),
                               ["ROICorrelation_FisherZ_sub007.txt", "no ID in labels.csv matches"]),
    "CSV row without matrix": ({member_name(2): None},
                               ["subject 'sub003' (labels.csv line 4) has no matrix file"]),
    "single class": ({"labels.csv": label_csv(labels=["NC"] * 6)}, ["all 6 subjects have label 'NC'"]),
    "duplicate ids": ({"labels.csv": label_csv(ids=["sub001", "sub002", "sub003", "sub004", "sub005", "sub001"])},
                      ["subject id 'sub001' is used 2 times", "labels.csv line 2", "labels.csv line 7"]),
    "two matrices for one id": ({"other/sub001.txt": matrix_text(M[0])},
                                ["subject 'sub001' has 2 matrix files", "other/sub001.txt"]),
    "unreadable number": (_bad_value("abc"), [f"member '{member_name(1)}' line 1: 'abc' is not a number"]),
    "ragged rows": (_matrix(1, "1 2 3 4\n1 2 3\n1 2 3 4\n1 2 3 4\n"),
                    [f"member '{member_name(1)}': line 2 has 3 values, line 1 has 4 (ragged rows)"]),
    "not text": (_matrix(1, b"\x00\x01\x02binary"), [f"member '{member_name(1)}' is not a text file"]),
    "not utf-8": (_matrix(1, b"1 2 \xff\xfe"), [f"member '{member_name(1)}' is not UTF-8 text"]),
    "empty matrix": (_matrix(1, "\n\n"), [f"member '{member_name(1)}' is empty"]),
    "parent path": ({"../evil.txt": "1"}, ["member '../evil.txt': path leaves the archive"]),
    "nested parent path": ({"a/../../evil.txt": "1"}, ["path leaves the archive"]),
    "absolute path": ({"/abs.txt": "1"}, ["member '/abs.txt': absolute path"]),
    "drive letter": ({"C:\\evil.txt": "1"}, ["absolute path"]),
    "no label table": ({"labels.csv": None}, ["archive has 0 .csv files"]),
    "two label tables": ({"more.csv": label_csv()}, ["archive has 2 .csv files"]),
    "unsupported member": ({"sub001.mat": b"MATLAB"}, ["member 'sub001.mat': unsupported file type"]),
    "no LABEL column": ({"labels.csv": label_csv().replace("LABEL", "GROUP")}, ["no LABEL column"]),
    "short CSV row": ({"labels.csv": label_csv().replace("sub004,SZ,300.0,", "sub004,SZ,")},
                      ["labels.csv line 5: 9 cells, the header has 10"]),
}
# An extra column that is not a per-region feature is refused by name.
_AGE_CSV = "ID,LABEL,AGE\n" + "".join(f"{subject_id(i)},{label},30\n" for i, label in enumerate(LABELS))
DPABI_CASES["unknown column"] = ({"labels.csv": _AGE_CSV}, ["column 'AGE' is not ID, LABEL or a per-region feature"])


@pytest.mark.parametrize("case", sorted(DPABI_CASES))
def test_dpabi_zip_rejects(case):
    changes, fragments = DPABI_CASES[case]
    data = zip_bytes(_with(**changes))
    _assert_mentions(_problems(lambda: load_dpabi_zip(data, **LIMITS)), *fragments)


def test_dpabi_zip_collects_several_problems_at_once():
    members = _with(**_bad_value("nan"), **{member_name(3): None,
                                           "labels.csv": label_csv().replace("sub005,NC", "sub005,")})
    problems = _problems(lambda: load_dpabi_zip(zip_bytes(members), **LIMITS))
    _assert_mentions(problems, "subject 'sub002'", "non-finite", "subject 'sub004'", "no matrix file",
                     "subject 'sub005'", "missing label")


def test_dpabi_oversized_member_is_refused_before_reading():
    data = zip_bytes(dpabi_members())
    problems = _problems(lambda: load_dpabi_zip(data, max_member_bytes=100, max_total_bytes=256 * MIB))
    _assert_mentions(problems, f"member '{member_name(0)}' declares", "over the per-member limit of 100")


def test_dpabi_oversized_archive_total():
    data = zip_bytes(dpabi_members(conn=matrices(r=20)))
    total = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert len(data) < total - 1
    problems = _problems(lambda: load_dpabi_zip(data, max_member_bytes=MIB, max_total_bytes=total - 1))
    _assert_mentions(problems, f"archive declares {total} bytes uncompressed, over the limit of {total - 1}")


def test_dpabi_oversized_file():
    data = zip_bytes(dpabi_members())
    problems = _problems(lambda: load_dpabi_zip(data, max_member_bytes=MIB, max_total_bytes=len(data) - 1))
    _assert_mentions(problems, f"file is {len(data)} bytes")


def test_zip_bomb_ratio_is_refused():
    members = _with(**{"bomb.txt": b"0 " * (2 * MIB)})
    problems = _problems(lambda: load_dpabi_zip(zip_bytes(members), **LIMITS))
    _assert_mentions(problems, "member 'bomb.txt' expands", "zip bomb")


def _stored_archive() -> tuple[bytearray, zipfile.ZipInfo]:
    data = bytearray(zip_bytes({"labels.csv": "ID,LABEL\n", "a.txt": "1 2\n3 4\n"}, zipfile.ZIP_STORED))
    return data, zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("a.txt")


def test_corrupt_member_is_unreadable():
    data, info = _stored_archive()
    data[info.header_offset + 30 + len("a.txt")] ^= 0xFF  # first stored byte: the CRC no longer matches
    _assert_mentions(_problems(lambda: load_dpabi_zip(bytes(data), **LIMITS)), "member 'a.txt': cannot be read")


def test_member_declaring_a_smaller_size_is_not_trusted():
    data, _ = _stored_archive()
    central = data.rfind(b"PK\x01\x02")  # a.txt's central directory entry (written last)
    data[central + 24:central + 28] = (3).to_bytes(4, "little")  # uncompressed size: 3 bytes
    _assert_mentions(_problems(lambda: load_dpabi_zip(bytes(data), **LIMITS)), "member 'a.txt': cannot be read")


def test_not_a_zip_and_empty():
    _assert_mentions(_problems(lambda: load_dpabi_zip(b"", **LIMITS)), "file is empty")
    _assert_mentions(_problems(lambda: load_dpabi_zip(b"ID,LABEL\n", **LIMITS)), "not a readable zip archive")
    _assert_mentions(_problems(lambda: load_dpabi_zip(zip_bytes({}), **LIMITS)),
                     "archive has 0 .csv files", "archive has no .txt matrices")


def test_label_table_without_rows_is_an_empty_dataset():
    members = {member_name(0): matrix_text(M[0]), "labels.csv": "ID,LABEL\n"}
    _assert_mentions(_problems(lambda: load_dpabi_zip(zip_bytes(members), **LIMITS)),
                     "no ID in labels.csv matches")
    only_table = {"x.txt": "", "labels.csv": "ID,LABEL\n"}
    _assert_mentions(_problems(lambda: load_dpabi_zip(zip_bytes(only_table), **LIMITS)), "no ID in labels.csv")


# ------------------------------------------------------------------ npz


def _npz(**changes) -> bytes:
    arrays = npz_arrays()
    for key, value in changes.items():
        arrays.pop(key, None)
        if value is not None:
            arrays[key] = value
    return npz_bytes(**arrays)


def _conn_with(value, at=(1, 0, 1)):
    conn = matrices().copy()
    conn[at] = value
    return conn


NPZ_CASES = {
    "object array": ({"labels": np.array(["NC", 1, None, "SZ", "NC", "SZ"], dtype=object)},
                     ["array 'labels' holds Python objects (object dtype)"]),
    "missing conn": ({"conn": None}, ["missing array 'conn'"]),
    "missing labels": ({"labels": None}, ["missing array 'labels'"]),
    "conn not 3-D": ({"conn": matrices()[0]}, ["array 'conn' has shape (4, 4)", "expected N×R×R numbers"]),
    "conn text": ({"conn": np.full((6, 4, 4), "x")}, ["array 'conn'", "expected N×R×R numbers"]),
    "non-square": ({"conn": matrices()[:, :, :3], "features": None},
                   ["array 'conn' has shape (6, 4, 3): matrices are not square"]),
    "nan": ({"conn": _conn_with(np.nan)}, ["subject 'sub-0002' (conn[1])", "1 non-finite values"]),
    "inf": ({"conn": _conn_with(np.inf)}, ["subject 'sub-0002' (conn[1])", "1 non-finite values"]),
    "feature nan": ({"features": np.full((6, 4, 3), np.nan, np.float32)},
                    ["subject 'sub-0001' (conn[0]): features has 12 non-finite values"]),
    "feature rows != regions": ({"features": np.zeros((6, 3, 2), np.float32)},
                                ["array 'features' has 3 rows per subject but 'conn' has 4 regions"]),
    "feature_names count": ({"feature_names": np.array(["a", "b"])}, ["'feature_names' has 2 names for 3 features"]),
    "missing label": ({"labels": np.array(["NC", "SZ", "NC", "SZ", "NC"])},
                      ["array 'labels' has 5 entries but 'conn' has 6 subjects"]),
    "empty label": ({"labels": np.array(["NC", "SZ", "", "SZ", "NC", "SZ"])}, ["subject 'sub-0003'", "missing label"]),
    "subjects count": ({"subjects": np.array(["a", "b"])}, ["array 'subjects' has 2 entries"]),
    "single class": ({"labels": np.zeros(6, np.int64)}, ["all 6 subjects have label '0'"]),
    "duplicate ids": ({"subjects": np.array(["a", "b", "c", "d", "e", "a"])},
                      ["subject id 'a' is used 2 times", "conn[0]", "conn[5]"]),
    "label outside class_names": ({"labels": np.array([0, 1, 0, 1, 2, 1]), "class_names": np.array(["NC", "SZ"])},
                                  ["subject 'sub-0005' (conn[4]): label 2 is outside 0..1"]),
    "label not in class_names": ({"class_names": np.array(["NC", "XX"])},
                                 ["subject 'sub-0002' (conn[1]): label 'SZ' is not one of the class_names"]),
    "fractional label": ({"labels": np.array([0, 1, 0.5, 1, 0, 1])}, ["subject 'sub-0003'", "label 0.5 is neither"]),
    "nan label": ({"labels": np.array([0, 1, np.nan, 1, 0, 1])}, ["subject 'sub-0003'", "label nan is neither"]),
    "unknown array": ({"ages": np.arange(6)}, ["member 'ages.npy' is not one of the arrays"]),
    "empty": ({"conn": np.zeros((0, 4, 4), np.float32), "labels": np.zeros(0, np.int64), "features": None},
              ["dataset is empty"]),
}


@pytest.mark.parametrize("case", sorted(NPZ_CASES))
def test_npz_rejects(case):
    changes, fragments = NPZ_CASES[case]
    data = _npz(**changes)
    _assert_mentions(_problems(lambda: load_npz(data)), *fragments)


def _npy_member(header_shape: tuple, payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": header_shape})
    return buf.getvalue() + payload


def test_npz_header_claiming_more_than_it_holds_is_refused_without_allocating():
    conn = _npy_member((10**6, 90, 90), np.zeros(16, np.float32).tobytes())
    data = zip_bytes({"conn.npy": conn, "labels.npy": _npy_member((1,), b"\0" * 4)})
    _assert_mentions(_problems(lambda: load_npz(data)), "array 'conn': header says shape (1000000, 90, 90)")


def test_npz_garbage_member():
    data = zip_bytes({"conn.npy": b"not an npy", "labels.npy": b"\x93NUMPY\x09\x00"})
    _assert_mentions(_problems(lambda: load_npz(data)), "array 'conn': not a valid .npy array",
                     "array 'labels': not a valid .npy array")


def test_npz_oversized_and_bomb():
    data = _npz()
    _assert_mentions(_problems(lambda: load_npz(data, max_bytes=len(data) - 1)), f"file is {len(data)} bytes")
    big = npz_bytes(conn=np.zeros((300, 90, 90), np.float32), labels=np.arange(300) % 2)
    _assert_mentions(_problems(lambda: load_npz(big, max_bytes=len(big) + 1)), "declares", "over the per-member limit")
    _assert_mentions(_problems(lambda: load_npz(big)), "member 'conn.npy' expands", "zip bomb")


def test_npz_path_escape():
    data = zip_bytes({"../conn.npy": b"x", "/labels.npy": b"y"})
    _assert_mentions(_problems(lambda: load_npz(data)), "path leaves the archive", "absolute path")


# ------------------------------------------------------------------ load_upload


@pytest.mark.parametrize("filename, data, fragment", [
    ("data.mat", b"MATLAB 5.0", "unsupported file type '.mat'"),
    ("data", b"PK\x03\x04", "unsupported file type '(none)'"),
    ("data.npy", npz_bytes(conn=np.zeros(3)), "unsupported file type '.npy'"),
    ("data.npz", b"", "'data.npz' is empty"),
    ("data.zip", b"", "'data.zip' is empty"),
    ("data.npz", b"\x93NUMPY not a zip", "'data.npz' is not a .npz file"),
    ("data.zip", b"ID,LABEL\n", "'data.zip' is not a .zip file"),
    ("data.zip", npz_bytes(**npz_arrays()), "member 'conn.npy': unsupported file type"),
])
def test_load_upload_rejects(filename, data, fragment):
    _assert_mentions(_problems(lambda: load_upload(filename, data, max_bytes=64 * MIB)), fragment)


def test_load_upload_applies_max_bytes_to_both_kinds():
    npz, zipped = _npz(), zip_bytes(dpabi_members())
    _assert_mentions(_problems(lambda: load_upload("a.npz", npz, max_bytes=100)), "over the limit of 100")
    _assert_mentions(_problems(lambda: load_upload("a.zip", zipped, max_bytes=100)), "over the limit of 100")
