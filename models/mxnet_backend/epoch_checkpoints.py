"""The checkpoints an MXNet training stores after each epoch and before it pauses; the image
classifier's engine (``engine.py``) and the detector's (``detector.py``) share them.

``run`` is an engine's run in progress: ``net``, ``trainer``, ``meta()``, ``epoch``,
``best_params`` (the best epoch's parameters) and ``spec.params`` (``save_period``,
``num_epoch``); these set its ``last_blob`` and ``best_blob``.
"""

from __future__ import annotations

from models.job import JobHooks
from models.mxnet_backend.checkpoint import pack_checkpoint


def store_epoch(run, hooks: JobHooks, improved: bool) -> None:  # noqa: ANN001 - an engine's run
    """Packs the epoch just trained (with the best epoch's parameters when that is an earlier
    one) and stores it as "last" and under its epoch every ``save_period`` epochs and at the
    end, and as "best" when the epoch improved on the validation score."""
    p = run.spec.params
    run.last_blob = pack_checkpoint(run.net, run.trainer, run.meta(), run.best_params)
    if run.epoch % p.save_period == 0 or run.epoch == p.num_epoch:
        hooks.on_checkpoint("last", run.last_blob, run.epoch)
        hooks.on_checkpoint("epoch", run.last_blob, run.epoch)
    if improved:
        run.best_blob = run.last_blob
        hooks.on_checkpoint("best", run.best_blob, run.epoch)


def store_before_pause(run, hooks: JobHooks) -> None:  # noqa: ANN001 - an engine's run
    """The epochs since the last ``save_period`` checkpoint must not be lost to a pause."""
    if run.last_blob is not None and run.epoch % run.spec.params.save_period != 0:
        hooks.on_checkpoint("last", run.last_blob, run.epoch)
