import numpy as np
import pytest

from models.datasets.synthetic import DEMO_DATASET_NAME, synthetic_aal90


def test_shape_balance_and_names():
    ds = synthetic_aal90(140, seed=3)
    assert DEMO_DATASET_NAME == "A_181210_140_SZ_sfMRI_AAL90"
    assert ds.conn.shape == (140, 90, 90) and ds.conn.dtype == np.float32
    assert ds.class_names == ("NC", "SZ") and np.bincount(ds.labels).tolist() == [70, 70]
    assert len(set(ds.subjects)) == 140 and ds.features is None
    assert np.allclose(ds.conn, ds.conn.transpose(0, 2, 1)) and np.all(np.isfinite(ds.conn))
    assert np.all(np.diagonal(ds.conn, axis1=1, axis2=2) == 0)


def test_seeded_and_features_flag():
    a, b = synthetic_aal90(20, seed=1), synthetic_aal90(20, seed=1)
    assert np.array_equal(a.conn, b.conn) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.conn, synthetic_aal90(20, seed=2).conn)
    f = synthetic_aal90(20, seed=1, with_features=True)
    assert f.features.shape == (20, 90, 4) and f.feature_names == ("GMV", "ReHo", "ALFF", "DC")


def test_groups_differ_but_overlap():
    """A linear model on the upper triangle beats chance clearly, but not perfectly."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    ds = synthetic_aal90(140, seed=0)
    iu = np.triu_indices(90, 1)
    x = ds.conn[:, iu[0], iu[1]]
    acc = cross_val_score(LogisticRegression(C=0.1, max_iter=2000), x, ds.labels, cv=5).mean()
    assert 0.7 < acc < 0.97


def test_rejects_too_few_subjects():
    with pytest.raises(ValueError):
        synthetic_aal90(2)
