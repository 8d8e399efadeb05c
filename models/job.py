"""What the service hands the training engine and what it gets back (torch-free).

The worker (``tasks/``) builds a ``JobSpec`` from the task row and the stored blobs, calls
``models.engine.run_job(spec, hooks)`` and stores what the ``JobOutcome`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts.task_form import HyperParams  # the engine's hyper-parameters: the form's, one definition
from models.datasets.types import ConnectomeDataset
from models.sources import Source


@dataclass(frozen=True)
class NestedCV:
    """Nested cross-validation (models.nested_cv): on each outer fold an inner CV chooses among the
    grid's configurations (contracts.param_grid)."""

    grid: dict[str, list]  # {hyper-parameter: values}, each value checked by HyperParams
    inner_folds: int
    cv_type: str  # the inner splitter: contracts.param_grid.inner_cv_type of the outer one
    by_groups: bool = True  # inner folds keep groups whole, as the outer ones do


@dataclass(frozen=True)
class JobSpec:
    task_type: str  # one of TASK_TYPES
    model: str  # a name or alias from contracts.catalog
    params: HyperParams
    train: ConnectomeDataset | None  # None for dl_ev
    val: ConnectomeDataset | None
    test: ConnectomeDataset | None  # None unless enable_test (always set for dl_ev)
    init_weights: bytes | None = None  # the parent task's weights blob (dl_ft, dl_ev)
    # this task's last checkpoint, to continue from: bytes, or (a worker) its seekable local file
    resume_checkpoint: Source | None = None
    # Cross-validation: (train, val, test) per fold, run one after the other (models.cv_engine)
    folds: tuple[tuple[ConnectomeDataset, ConnectomeDataset, ConnectomeDataset], ...] | None = None
    n_permutations: int = 0  # > 0: a permutation test of the test accuracy (models.permutation)
    nested: NestedCV | None = None  # with ``folds``: each fold's configuration chosen by an inner CV
    with_baseline: bool = True  # the standard baseline beside the test result (models.standard_baseline)
    baseline_train: ConnectomeDataset | None = None  # dl_ev: the evaluated task's training subjects, for it


@dataclass(frozen=True, kw_only=True)
class EpochMetrics:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    train_accuracy: float | None  # None for a detector
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float
    fold: int | None = None  # cross-validation: the 0-based fold; ``epoch`` counts over all folds
    examples: int = 0  # training examples the epoch went through (examples/s = examples / seconds)
    val_map: float | None = None  # detectors: VOC mAP at IoU 0.5 on the validation images


class JobHooks(Protocol):
    def on_epoch(self, metrics: EpochMetrics) -> None:
        """Called after every finished epoch (store it, stream it)."""

    def on_checkpoint(self, kind: str, blob: bytes, epoch: int) -> None:
        """``kind`` is "last" (every epoch) or "best" (lowest val loss so far)."""

    def should_stop(self) -> bool:
        """Polled at least once per batch; True ends the job cooperatively."""

    # Optional: ``should_pause() -> bool``, polled between epochs, right after the last
    # checkpoint; True ends the job there, so nothing is lost (a worker shutting down).


def report_phase(hooks: JobHooks, phase: str) -> None:
    """The hooks' optional ``on_phase(phase)``: "built" once the network (and its weights) is
    ready, "training" as the first epoch begins, "evaluating" as a test pass begins."""
    on_phase = getattr(hooks, "on_phase", None)
    if on_phase is not None:
        on_phase(phase)


def pause_requested(hooks: JobHooks) -> bool:
    """The hooks' ``should_pause()``, False for hooks that have none."""
    pause = getattr(hooks, "should_pause", None)
    return bool(pause()) if pause is not None else False


class QuietHooks:
    """A run inside a task's own (an inner cross-validation fold, a permutation): it reports
    nothing, honours the task's stop, and its pause only when ``pausable``."""

    def __init__(self, hooks: JobHooks, pausable: bool = False):
        self.hooks, self.pausable = hooks, pausable

    def on_epoch(self, metrics: EpochMetrics) -> None:
        pass

    def on_checkpoint(self, kind: str, blob: bytes, epoch: int) -> None:
        pass

    def should_stop(self) -> bool:
        return self.hooks.should_stop()

    def should_pause(self) -> bool:
        return self.pausable and pause_requested(self.hooks)


@dataclass
class JobOutcome:
    stopped: bool  # True when should_stop() ended it early
    epochs_done: int
    weights: bytes | None  # the final model weights blob (None when stopped before any epoch)
    best_weights: bytes | None
    result: dict[str, Any] = field(default_factory=dict)  # a contracts.task_result.TaskResult, JSON-ready
    contract: dict[str, Any] = field(default_factory=dict)  # model, regions, features, classes
    # pictures only the engine can draw (a detector's boxes on test images): artifact kind → PNG
    pictures: dict[str, bytes] = field(default_factory=dict)
