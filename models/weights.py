"""Weights blobs (safetensors + JSON metadata) and checkpoints (``torch.save``, loaded weights-only).

A weights blob is what a task publishes: the model's tensors and, in the safetensors header, a JSON
document under ``"trainyard"`` with the model name, its contract (regions, node_features, classes,
class_names), the architecture arguments and graph settings needed to rebuild it. Reading it never
unpickles anything. A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, so
``torch.load(..., weights_only=True)`` accepts it.
"""

from __future__ import annotations

import io
import json
import struct

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from models.sources import Source, as_file

FORMAT = "trainyard-weights/1"


class BadWeights(ValueError):
    """The bytes are not a weights blob or checkpoint this service wrote."""


def pack_weights(state_dict: dict, meta: dict) -> bytes:
    """safetensors bytes of ``state_dict`` with ``meta`` (JSON-ready) in the header."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    return st_save(tensors, metadata={"trainyard": json.dumps({"format": FORMAT, **meta})})


def read_weights_meta(blob: bytes) -> dict:
    """The metadata of a weights blob, without loading its tensors. Raises BadWeights."""
    try:
        (size,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + size])
        meta = json.loads(header["__metadata__"]["trainyard"])
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise BadWeights(f"not a trainyard weights blob: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise BadWeights(f"unsupported weights format {meta.get('format')!r}")
    return meta


def unpack_weights(blob: bytes) -> tuple[dict, dict]:
    """(state_dict on CPU, metadata) of a weights blob. Raises BadWeights."""
    meta = read_weights_meta(blob)
    try:
        return st_load(blob), meta
    except Exception as exc:  # safetensors raises its own error type
        raise BadWeights(f"unreadable weights tensors: {exc}") from exc


def save_checkpoint(state: dict) -> bytes:
    """``torch.save`` bytes of a checkpoint dict."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def load_checkpoint(blob: Source) -> dict:
    """A checkpoint dict (bytes, or a seekable file or path read in place), loaded with
    ``weights_only=True`` onto the CPU. Raises BadWeights."""
    try:
        state = torch.load(as_file(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors of several kinds
        raise BadWeights(f"not a loadable checkpoint: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadWeights("not a trainyard checkpoint")
    return state
