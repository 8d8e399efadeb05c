"""Checkpoint blobs: one zip holding ``meta.json``, the network's parameters (MXNet's
``save_parameters`` format) and, for resuming, the trainer's states (``Trainer.save_states``:
momentum buffers plus MXNet's pickled optimizer, learning-rate schedule and update count
included) and, when the lowest-validation-loss epoch is an earlier one, that epoch's
parameters (``best.params``), so a resumed run still knows its best weights.

The trainer states are a pickle written by MXNet: load only checkpoints this service wrote,
never a user's upload. The parameters and meta are pickle-free.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import mxnet as mx
from mxnet import gluon

from models.sources import Source, as_file

CHECKPOINT_FORMAT = "trainyard-mxnet-checkpoint/1"


class CheckpointError(ValueError):
    """A blob is not a checkpoint this backend can load, or does not fit the job."""


@dataclass(frozen=True)
class CheckpointMeta:
    network: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (H, W, C) the network was fed: the data's, or the fitted shape
    epoch: int  # epochs completed
    best_val_loss: float | None = None
    format: str = CHECKPOINT_FORMAT
    fitted: bool = False  # the images were fitted to image_shape (fitting.py); evaluations fit theirs too
    best_epoch: int | None = None  # the epoch of best_val_loss (a detector's: of best_val_map)
    best_val_map: float | None = None  # detectors: the highest validation VOC mAP so far

    def data_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) evaluations fit their images to: the fitted shape; None when not fitted."""
        h, w, c = self.image_shape
        return (c, h, w) if self.fitted else None

    def contract(self) -> dict:
        """What a fine-tune or evaluation must match, JSON-ready."""
        return {"backend": "mxnet", "model": self.network, "classes": len(self.class_names),
                "class_names": list(self.class_names), "image_shape": list(self.image_shape)}


@dataclass(frozen=True)
class Checkpoint:
    meta: CheckpointMeta
    params: bytes
    states: bytes | None
    best_params: bytes | None = None  # None: the best epoch's are ``params`` (or there is none)

    def best(self) -> bytes | None:
        """The lowest-validation-loss epoch's parameters, when known."""
        if self.best_params is not None:
            return self.best_params
        return self.params if self.meta.best_epoch == self.meta.epoch else None


def pack_checkpoint(net: gluon.Block, trainer: gluon.Trainer | None, meta: CheckpointMeta,
                    best_params: bytes | None = None) -> bytes:
    """The blob for ``net`` (and ``trainer``'s states when given; ``best_params``, the
    best epoch's parameters, when that epoch is not ``meta.epoch``)."""
    with tempfile.TemporaryDirectory(prefix="trainyard-ckpt-") as tmp:
        net.save_parameters(str(Path(tmp, "net.params")))
        if trainer is not None:
            trainer.save_states(str(Path(tmp, "trainer.states")))
        buf = io.BytesIO()
        # Stored, not deflated: trained float32 parameters barely compress, and deflating them
        # took most of an epoch's checkpoint time (0.35 of 0.4 s for a small SSD).
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("meta.json", json.dumps(asdict(meta)))
            for name in ("net.params", "trainer.states"):
                if Path(tmp, name).exists():
                    zf.write(Path(tmp, name), name)
            if best_params is not None and meta.best_epoch != meta.epoch:
                zf.writestr("best.params", best_params)
    return buf.getvalue()


def params_bytes(net: gluon.Block) -> bytes:
    """``net``'s parameters in MXNet's ``save_parameters`` format."""
    with tempfile.TemporaryDirectory(prefix="trainyard-ckpt-") as tmp:
        net.save_parameters(str(Path(tmp, "net.params")))
        return Path(tmp, "net.params").read_bytes()


def _meta_from_json(raw: bytes) -> CheckpointMeta:
    data = json.loads(raw)
    if data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint format {data.get('format')!r} is not {CHECKPOINT_FORMAT!r}")
    return CheckpointMeta(
        network=str(data["network"]), class_names=tuple(data["class_names"]),
        image_shape=tuple(int(v) for v in data["image_shape"]), epoch=int(data["epoch"]),
        best_val_loss=data.get("best_val_loss"), fitted=bool(data.get("fitted", False)),
        best_epoch=data.get("best_epoch"), best_val_map=data.get("best_val_map"),
    )


def unpack_checkpoint(blob: Source) -> Checkpoint:
    """The parts of a blob made by ``pack_checkpoint`` (bytes, or a seekable file or path read in
    place). Raises CheckpointError otherwise."""
    try:
        with zipfile.ZipFile(as_file(blob)) as zf:
            names = set(zf.namelist())
            meta = _meta_from_json(zf.read("meta.json"))
            params = zf.read("net.params")
            states = zf.read("trainer.states") if "trainer.states" in names else None
            best = zf.read("best.params") if "best.params" in names else None
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"not a trainyard MXNet checkpoint: {exc}") from exc
    return Checkpoint(meta, params, states, best)


def load_params(net: gluon.Block, params: bytes, ctx: mx.Context) -> None:
    """Loads parameter bytes into ``net`` on ``ctx``. Raises CheckpointError when they do not
    fit the network (other architecture or class count)."""
    with tempfile.TemporaryDirectory(prefix="trainyard-ckpt-") as tmp:
        path = Path(tmp, "net.params")
        path.write_bytes(params)
        try:
            net.load_parameters(str(path), ctx=ctx)
        except (AssertionError, mx.base.MXNetError, ValueError) as exc:
            raise CheckpointError(f"weights do not fit the network: {str(exc).splitlines()[0][:200]}") from exc


def load_states(trainer: gluon.Trainer, states: bytes) -> None:
    """Restores the trainer's optimizer, schedule and momentum from ``states``."""
    with tempfile.TemporaryDirectory(prefix="trainyard-ckpt-") as tmp:
        path = Path(tmp, "trainer.states")
        path.write_bytes(states)
        trainer.load_states(str(path))
