"""One epoch of training and one evaluation pass, in the style of PyG's ``mutag_gin.py``.

Inputs are the network's prepared per-subject tensors (``net.prepare``), already on the device;
a batch is a slice of them by subject index, so no per-batch graph building happens here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from models.graphs import GraphTensors
from models.networks import ConnectomeNet


class Stopped(Exception):
    """``should_stop()`` returned True in the middle of an epoch."""


@dataclass(frozen=True)
class Prepared:
    inputs: tuple[Tensor, ...]
    y: Tensor

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    def take(self, idx: Tensor) -> tuple[Tensor, ...]:
        return tuple(t[idx] for t in self.inputs)


@torch.no_grad()
def prepare(net: ConnectomeNet, graphs: GraphTensors, device: torch.device) -> Prepared:
    g = graphs.to(device)
    return Prepared(tuple(net.prepare(g.x, g.weight, g.mask)), g.y)


def train_epoch(net: ConnectomeNet, data: Prepared, optimizer, batch_size: int,
                generator: torch.Generator, should_stop: Callable[[], bool]) -> tuple[float, float]:
    """One pass over ``data`` in a seeded random order; returns (mean loss, accuracy).

    Raises Stopped when ``should_stop()`` (polled before every batch) returns True.
    """
    net.train()
    order = torch.randperm(data.n, generator=generator).to(data.y.device)
    total_loss, correct = 0.0, 0
    for start in range(0, data.n, batch_size):
        if should_stop():
            raise Stopped()
        idx = order[start : start + batch_size]
        optimizer.zero_grad()
        out = net(*data.take(idx))
        loss = F.nll_loss(out, data.y[idx])
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * idx.numel()
        correct += int((out[:, : net.classes].argmax(dim=1) == data.y[idx]).sum())
    return total_loss / data.n, correct / data.n


@torch.no_grad()
def evaluate(net: ConnectomeNet, data: Prepared, batch_size: int = 256) -> tuple[float, float, Tensor]:
    """(mean loss, accuracy, class probabilities (N, classes) on the CPU) of ``net`` on ``data``."""
    net.eval()
    total_loss, probs = 0.0, []
    for start in range(0, data.n, batch_size):
        idx = torch.arange(start, min(start + batch_size, data.n), device=data.y.device)
        out = net(*data.take(idx))
        total_loss += float(F.nll_loss(out, data.y[idx], reduction="sum"))
        probs.append(out[:, : net.classes].softmax(dim=1).cpu())
    prob = torch.cat(probs)
    accuracy = float((prob.argmax(dim=1) == data.y.cpu()).float().mean())
    return total_loss / data.n, accuracy, prob
