"""The learning-rate schedule and the weight initialiser, as MXServer's request names them.

The schedule is MXNet's ``FactorScheduler``: the rate starts at ``base_lr`` and is multiplied by
``factor`` once every ``step`` updates (mini-batches), never going below ``stop_factor_lr``.
trainyard states the step in epochs (``lr_step_epochs``) and converts it with the number of
batches per epoch.
"""

from __future__ import annotations

import math

import mxnet as mx

from contracts.mxserver_request import INITIALIZER_NAMES


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
    base_lr: float, lr_step_epochs: int, factor: float, stop_factor_lr: float, batches_per_epoch: int,
    step_updates: int = 0, steps_updates: tuple[int, ...] = (),
) -> mx.lr_scheduler.LRScheduler | None:
    """A MultiFactorScheduler at the updates ``steps_updates`` when given; else a FactorScheduler
    stepping every ``step_updates`` updates, or every ``lr_step_epochs`` epochs; None (constant
    rate) when there is no step or ``factor`` is 1. Raises ValueError for a negative step or
    factor outside (0, 1]."""
    if lr_step_epochs < 0 or step_updates < 0 or not 0.0 < factor <= 1.0:
        raise ValueError("lr_step_epochs and step_updates must be ≥ 0 and factor in (0, 1]")
    if factor == 1.0:
        return None
    if steps_updates:
        return mx.lr_scheduler.MultiFactorScheduler(step=list(steps_updates), factor=factor, base_lr=base_lr)
    if step_updates == 0 and lr_step_epochs == 0:
        return None
    step = step_updates or lr_step_epochs * max(1, batches_per_epoch)
    return mx.lr_scheduler.FactorScheduler(step=step, factor=factor, stop_factor_lr=stop_factor_lr, base_lr=base_lr)


def make_initializer(name: str, param: float | None = None) -> mx.init.Initializer:
    """The initialiser named, with its one parameter (None: the default in brackets): "xavier"
    (Xavier, uniform, avg fan, magnitude [3]), "uniform" (U(−scale, scale), scale [0.07]),
    "normal" (N(0, sigma²), sigma [0.01]) or "msra" (MSRAPrelu, slope [0.25]). Raises ValueError."""
    key = str(name).strip().lower()
    if key == "xavier":
        return mx.init.Xavier(magnitude=3 if param is None else param)
    if key == "uniform":
        return mx.init.Uniform(0.07 if param is None else param)
    if key == "normal":
        return mx.init.Normal(0.01 if param is None else param)
    if key == "msra":
        return mx.init.MSRAPrelu(slope=0.25 if param is None else param)
    raise ValueError(f"unknown initializer {name!r}; choose one of {INITIALIZER_NAMES}")
