import pytest
import torch
from torch_geometric.data import Batch

from contracts.catalog import all_models
from models.graphs import build_graphs, to_data_list
from models.networks import REGISTRY, UnknownModel, build_network, canonical_name
from tests.models.engine_helpers import tiny

torch.set_num_threads(1)
TWINS = [n for n, e in REGISTRY.items() if e.dense and e.sparse]


def _forms():
    for name, entry in REGISTRY.items():
        for sparse, cls in ((False, entry.dense), (True, entry.sparse)):
            if cls is not None:
                yield name, sparse


def test_registry_matches_catalog_names_and_aliases():
    # Every torch network the catalog lists is built here; the one-step baseline is not a network.
    torch_models = [m for m in all_models() if m.backend == "torch" and m.iterative]
    assert set(REGISTRY) == {m.name for m in torch_models}
    assert [m.name for m in all_models() if not m.iterative] == ["tangent-logreg"]
    for info in torch_models:
        for alias in (info.name, *info.aliases):
            assert canonical_name(alias.lower()) == info.name
    assert canonical_name("gnn") == "SGN"
    with pytest.raises(UnknownModel):
        canonical_name("resnet")


@pytest.mark.parametrize("name,sparse", list(_forms()))
@pytest.mark.parametrize("classes", [2, 3])
def test_output_shapes(name, sparse, classes):
    g = build_graphs(tiny(n=5))
    torch.manual_seed(0)
    net = build_network(name, regions=12, node_features=12, classes=classes, sparse=sparse).eval()
    out = net(*net.prepare(g.x, g.weight, g.mask))
    assert out.shape == (5, net.n_outputs) and net.n_outputs >= classes
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(5), atol=1e-5)
    assert net.contract() == {"model": name, "regions": 12, "node_features": 12, "classes": classes}


@pytest.mark.parametrize("name", TWINS)
@pytest.mark.parametrize("keep", [100.0, 30.0])
def test_dense_equals_sparse(name, keep):
    """Same weights in the dense module and the PyG one give the same log-probabilities."""
    g = build_graphs(tiny(n=6, with_features=False), keep)
    torch.manual_seed(1)
    dense = build_network(name, regions=12, node_features=12, classes=2).eval()
    sparse = build_network(name, regions=12, node_features=12, classes=2, sparse=True).eval()
    assert dense.dense and not sparse.dense
    sparse.load_state_dict(dense.state_dict())
    expected = sparse.forward_graph(Batch.from_data_list(to_data_list(g)))
    got = dense(*dense.prepare(g.x, g.weight, g.mask))
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_dense_twin_gets_same_initial_weights_as_pyg():
    torch.manual_seed(5)
    dense = build_network("SGN", regions=12, node_features=12, classes=2)
    torch.manual_seed(5)
    sparse = build_network("SGN", regions=12, node_features=12, classes=2, sparse=True)
    for key, value in sparse.state_dict().items():
        assert torch.equal(dense.state_dict()[key], value)


def test_impossible_contracts_refused():
    with pytest.raises(ValueError):
        build_network("GCN", regions=12, node_features=12, classes=1)
    with pytest.raises(ValueError):
        build_network("MLP", regions=12, node_features=12, classes=2, sparse=True)
