"""The MXNet tests run only in the MXNet environment (.venv-mxnet, made by
scripts/bootstrap_mxnet.sh). A conftest cannot skip a folder (pytest reports that as an error),
so each test module starts with ``pytest.importorskip("mxnet")`` and everything here imports
lazily: under the torch venv the folder shows up as skipped modules."""

import pytest


@pytest.fixture(scope="session")
def demo_train():
    from models.mxnet_backend.demo import make_demo_images

    return make_demo_images(per_class=100, seed=0)


@pytest.fixture(scope="session")
def demo_val():
    from models.mxnet_backend.demo import make_demo_images

    return make_demo_images(per_class=25, seed=1)
