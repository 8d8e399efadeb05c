import numpy as np
import pytest
import torch

from models.graphs import build_graphs, edge_mask, to_data_list, to_pyg_batch, zscore_matrices
from tests.models.engine_helpers import tiny


def test_zscore_off_diagonal():
    z = zscore_matrices(tiny().conn)
    off = ~np.eye(12, dtype=bool)
    assert np.allclose(z[:, off].mean(axis=1), 0, atol=1e-5)
    assert np.allclose(z[:, off].std(axis=1), 1, atol=1e-4)
    assert np.all(z[:, ~off] == 0)


def test_complete_symmetric_graph_and_row_features():
    ds = tiny()
    g = build_graphs(ds)
    assert g.x.shape == (16, 12, 12) and g.n_node_features == 12  # rows as features
    assert torch.equal(g.mask, g.mask.transpose(1, 2))
    assert int(g.mask[0].sum()) == 12 * 11 and float(g.mask[0].diagonal().sum()) == 0
    data = to_data_list(g)[0]
    assert data.edge_index.shape == (2, 132) and data.edge_attr.shape == (132, 1)


def test_threshold_keeps_strongest_pairs():
    z = zscore_matrices(tiny().conn)
    mask = edge_mask(z, 25.0)
    iu = np.triu_indices(12, 1)
    kept = mask[0][iu].astype(bool)
    assert kept.sum() == round(66 * 0.25)
    strength = np.abs(z[0][iu])
    assert strength[kept].min() >= strength[~kept].max()
    with pytest.raises(ValueError):
        edge_mask(z, 0)


def test_dataset_features_used_when_present():
    g = build_graphs(tiny(with_features=True))
    assert g.x.shape == (16, 12, 4)


def test_batch_matches_data_list():
    g = build_graphs(tiny(), 50)
    from torch_geometric.data import Batch

    a = to_pyg_batch(g.x[:3], g.weight[:3], g.mask[:3])
    b = Batch.from_data_list(to_data_list(g)[:3])
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_weight, b.edge_weight)
    assert torch.equal(a.batch, b.batch)
