"""The API's plain-data catalog names exactly the MXNet networks the engine can build."""

import pytest

pytest.importorskip("mxnet")

from contracts.catalog import all_models  # noqa: E402
from models.mxnet_backend.networks import MX_NETWORKS  # noqa: E402


def test_catalog_lists_every_mxnet_network_with_its_aliases():
    listed = {m.name: set(m.aliases) for m in all_models() if m.backend == "mxnet"}
    assert listed == {n.name: set(n.aliases) for n in MX_NETWORKS}
    assert all(m.input == "image" for m in all_models() if m.backend == "mxnet")
