import io
import pickle

import pytest
import torch

from models.plots import confusion_png, curves_png
from models.weights import BadWeights, load_checkpoint, pack_weights, save_checkpoint, unpack_weights
from tests.models.engine_helpers import Recorder, params, split, tiny


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_weights_roundtrip_with_metadata():
    sd = {"a.weight": torch.randn(3, 2), "b": torch.zeros(4)}
    state, meta = unpack_weights(pack_weights(sd, {"model": "SGN", "contract": {"regions": 2}}))
    assert meta["model"] == "SGN" and meta["contract"] == {"regions": 2}
    assert torch.equal(state["a.weight"], sd["a.weight"])
    with pytest.raises(BadWeights):
        unpack_weights(b"not safetensors at all")


def test_engine_checkpoint_loads_weights_only():
    from models.engine import run_job
    from models.job import JobSpec

    train, val, test = split(tiny(n=20))
    hooks = Recorder()
    run_job(JobSpec("dl_ts", "SGN-TopK", params(epochs=1), train, val, test), hooks, device="cpu")
    blob = hooks.last()[1]
    raw = torch.load(io.BytesIO(blob), weights_only=True)
    assert raw["epoch"] == 1 and raw["model"] == "SGN-TopK"
    assert load_checkpoint(blob)["contract"]["regions"] == 12


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch's note on the refused pickle
def test_pickled_objects_are_refused():
    evil = save_checkpoint({"format": "trainyard-weights/1", "x": _Evil()})
    with pytest.raises(BadWeights):
        load_checkpoint(evil)
    with pytest.raises(BadWeights):
        load_checkpoint(pickle.dumps({"a": 1}))


def test_pictures_are_png():
    epochs = [{"epoch": i, "train_loss": 1 / i, "train_accuracy": 0.5, "val_loss": None,
               "val_accuracy": None} for i in range(1, 4)]
    assert curves_png(epochs, "t").startswith(b"\x89PNG")
    assert confusion_png([[3, 1], [2, 4]], ["NC", "SZ"]).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        confusion_png([[1]], ["NC", "SZ"])
