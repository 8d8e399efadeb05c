"""The learning-rate schedule and the weight initialiser, as MXServer's request names them.

The schedule is MXNet's ``FactorScheduler``: the rate starts at ``base_lr`` and is multiplied by
``factor`` once every ``step`` updates (mini-batches), never going below ``stop_factor_lr``.
trainyard states the step in epochs (``lr_step_epochs``) and converts it with the number of
batches per epoch.
"""

from __future__ import annotations

import math

import mxnet as mx

INITIALIZERS = ("xavier", "uniform", "normal", "msra")


def factor_lr(num_update: int, base_lr: float, step: int, factor: float, stop_factor_lr: float) -> float:
    """The rate FactorScheduler gives after ``num_update`` updates: base_lr·factor^k, where k
    counts the whole steps strictly passed (k = ceil(n/step) − 1 for n ≥ 1), floored at
    ``stop_factor_lr`` once a reduction happened. Raises ValueError for step < 1 or factor > 1."""
    if step < 1 or factor > 1.0:
        raise ValueError("step must be ≥ 1 and factor ≤ 1")
    k = max(0, math.ceil(num_update / step) - 1)
    if k == 0:
        return base_lr
    return max(base_lr * factor**k, stop_factor_lr)


def make_lr_scheduler(
    base_lr: float, lr_step_epochs: int, factor: float, stop_factor_lr: float, batches_per_epoch: int
) -> mx.lr_scheduler.FactorScheduler | None:
    """A FactorScheduler stepping every ``lr_step_epochs`` epochs; None (constant rate) when
    ``lr_step_epochs`` is 0 or ``factor`` is 1. Raises ValueError for a negative step or
    factor outside (0, 1]."""
    if lr_step_epochs < 0 or not 0.0 < factor <= 1.0:
        raise ValueError("lr_step_epochs must be ≥ 0 and factor in (0, 1]")
    if lr_step_epochs == 0 or factor == 1.0:
        return None
    step = lr_step_epochs * max(1, batches_per_epoch)
    return mx.lr_scheduler.FactorScheduler(step=step, factor=factor, stop_factor_lr=stop_factor_lr, base_lr=base_lr)


def make_initializer(name: str) -> mx.init.Initializer:
    """The initialiser named: "xavier" (Xavier, uniform, avg fan, magnitude 3), "uniform"
    (U(−0.07, 0.07)), "normal" (N(0, 0.01²)) or "msra" (He / MSRAPrelu). Raises ValueError."""
    key = str(name).strip().lower()
    if key == "xavier":
        return mx.init.Xavier()
    if key == "uniform":
        return mx.init.Uniform(0.07)
    if key == "normal":
        return mx.init.Normal(0.01)
    if key == "msra":
        return mx.init.MSRAPrelu()
    raise ValueError(f"unknown initializer {name!r}; choose one of {INITIALIZERS}")
