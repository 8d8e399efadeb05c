"""Groups (sites, scanners, families): read from an .npz key ``groups`` or a DPABI CSV column
GROUP or SITE, kept through storage, counted in the metadata, and every bad one named."""

from __future__ import annotations

import numpy as np
import pytest

from models.datasets.dpabi import load_dpabi_zip
from models.datasets.metadata import checksum, describe
from models.datasets.npz import load_npz
from models.datasets.types import ConnectomeDataset, DatasetImportError
from tests.models.dataset_builders import N_SUBJECTS, dpabi_members, label_csv, npz_arrays, npz_bytes, zip_bytes

LIMITS = {"max_member_bytes": 1 << 20, "max_total_bytes": 1 << 24}
SITES = ["NYU", "NYU", "UCLA", "UCLA", "KKI", "KKI"]


def _with_column(title: str, cells: list[str], csv: str | None = None) -> dict:
    lines = (csv or label_csv()).splitlines()
    rows = [f"{lines[0]},{title}"] + [f"{line},{cell}" for line, cell in zip(lines[1:], cells)]
    return {**dpabi_members(), "labels.csv": "\n".join(rows) + "\n"}


def test_npz_groups_are_read_stored_and_counted():
    ds = load_npz(npz_bytes(**npz_arrays(), groups=np.array(SITES)))
    assert ds.groups == tuple(SITES)
    assert ConnectomeDataset.from_npz_bytes(ds.to_npz_bytes()).groups == tuple(SITES)
    assert ds.subset([5, 0]).groups == ("KKI", "NYU")
    meta = describe(ds)
    assert meta["n_groups"] == 3 and meta["group_counts"] == {"KKI": 2, "NYU": 2, "UCLA": 2}


def test_groups_change_the_checksum_and_no_groups_keeps_it():
    plain = load_npz(npz_bytes(**npz_arrays()))
    grouped = load_npz(npz_bytes(**npz_arrays(), groups=np.array(SITES)))
    assert plain.groups is None and "n_groups" not in describe(plain)
    assert checksum(grouped) != checksum(plain)


@pytest.mark.parametrize("column", ["GROUP", "SITE", "site"])
def test_dpabi_group_or_site_column(column):
    ds = load_dpabi_zip(zip_bytes(_with_column(column, SITES)), **LIMITS)
    assert ds.groups == tuple(SITES) and ds.n_features == 2  # the column is not a feature


@pytest.mark.parametrize("groups, words", [
    (np.array(SITES[:4]), "array 'groups' has 4 entries but 'conn' has 6 subjects"),
    (np.arange(N_SUBJECTS), "array 'groups' has shape (6,) and dtype int64; expected N strings"),
    (np.array(["NYU", "", "UCLA", "UCLA", "KKI", "KKI"]), "subject 'sub-0002' (conn[1]): empty group"),
    (np.array([SITES]), "array 'groups' has shape (1, 6)"),
])
def test_bad_npz_groups_are_named(groups, words):
    with pytest.raises(DatasetImportError) as err:
        load_npz(npz_bytes(**npz_arrays(), groups=groups))
    assert any(words in p for p in err.value.problems), err.value.problems


def test_bad_dpabi_groups_are_named():
    with pytest.raises(DatasetImportError) as err:
        load_dpabi_zip(zip_bytes(_with_column("SITE", ["NYU", "", "UCLA", "UCLA", "KKI", "KKI"])), **LIMITS)
    assert any("subject 'sub002'" in p and "empty group" in p for p in err.value.problems), err.value.problems

    both = _with_column("GROUP", SITES)
    both["labels.csv"] = "\n".join(f"{line},{site}" for line, site in
                                   zip(both["labels.csv"].splitlines(), ["SITE"] + SITES)) + "\n"
    with pytest.raises(DatasetImportError) as err:
        load_dpabi_zip(zip_bytes(both), **LIMITS)
    assert any("both GROUP and SITE" in p for p in err.value.problems), err.value.problems
