"""Shared pieces for the engine tests (torch and MXNet; torch-free): recording hooks, small
stratified splits, params."""

from __future__ import annotations

import numpy as np

from models.datasets.synthetic import synthetic_aal90
from models.job import HyperParams


class Recorder:
    """JobHooks that keep everything and stop after ``stop_after`` polls (None: never)."""

    def __init__(self, stop_after: int | None = None):
        self.epochs, self.checkpoints, self.polls = [], [], 0
        self.stop_after = stop_after

    def on_epoch(self, metrics):
        self.epochs.append(metrics)

    def on_checkpoint(self, kind, blob, epoch):
        self.checkpoints.append((kind, blob, epoch))

    def should_stop(self):
        self.polls += 1
        return self.stop_after is not None and self.polls > self.stop_after

    def last(self, kind="last"):
        return [c for c in self.checkpoints if c[0] == kind][-1]

    def kinds(self):
        return [(k, e) for k, _, e in self.checkpoints]


def split(ds, fractions=(0.6, 0.2, 0.2), seed=0):
    """Stratified train/val/test subsets of ``ds``."""
    rng = np.random.default_rng(seed)
    parts = [[], [], []]
    for c in np.unique(ds.labels):
        members = rng.permutation(np.flatnonzero(ds.labels == c))
        cuts = np.cumsum([round(f * members.size) for f in fractions[:2]])
        for part, chunk in zip(parts, np.split(members, cuts)):
            part.extend(chunk)
    return tuple(ds.subset(sorted(p)) for p in parts)


def params(**overrides) -> HyperParams:
    base = dict(learning_rate=0.005, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=3, seed=0)
    return HyperParams(**{**base, **overrides})


def tiny(n=16, regions=12, seed=0, **kw):
    return synthetic_aal90(n, seed=seed, n_regions=regions, n_pairs=3, n_modules=3, **kw)
