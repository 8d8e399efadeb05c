"""A task's result, its keys written once (pydantic and the standard library only).

The torch engine and the MXNet backend build their result through ``TaskResult`` (extra keys
forbidden, so a misspelt key fails where it is written), the runner stores its JSON dump in the
task row, the listing sorts by ``METRIC_FIELDS``, the poll shows them, and the API's document
describes the stored result as ``StoredTaskResult``.

It lives in ``models/`` because the engine may import nothing of ours outside ``models/``; it
imports no framework, so the API (which already reads ``contracts.catalog``) and the MXNet worker's
own environment import it too. The DAO stays SQLAlchemy-only: the listing is handed these names.

Stored rows are read with ``StoredTaskResult``, which keeps keys it does not name (rows written
before a key was renamed or removed) and needs none of the optional ones. Dumps leave out fields
never set (``exclude_unset``), so a stored result holds exactly the keys its producer gave.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

SCORES = ("accuracy", "balanced_accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc")
# A detector's test scores: VOC mAP at IoU 0.5 and COCO mAP over IoU 0.50:0.95 (models.detection_map).
DETECTION_SCORES = ("map_voc", "map_coco")
# the final weights, the best validation epoch's (lowest loss; a detector's: highest VOC mAP)
TEST_PREFIXES = ("test", "test_best")
# The standard baseline beside a test result (models.baseline_report): its record, its flat
# metrics' prefix, and the task's test accuracy minus the baseline's.
BASELINE_KEY, BASELINE_PREFIX, BASELINE_DIFFERENCE = "standard_baseline", "baseline_test", "baseline_accuracy_difference"


def _test_metric_types(prefix: str) -> dict[str, type]:
    scored = {f"{prefix}_{m}{bound}": float for m in SCORES + DETECTION_SCORES for bound in ("", "_low", "_high")}
    return {**scored, f"{prefix}_loss": float, f"{prefix}_n": int, f"{prefix}_chance_level": float}


_METRIC_TYPES: dict[str, type] = {
    **{k: t for p in TEST_PREFIXES for k, t in _test_metric_types(p).items()},
    **_test_metric_types(BASELINE_PREFIX),
    BASELINE_DIFFERENCE: float,
    "test_permutation_p_value": float,
    "final_val_loss": float, "final_val_accuracy": float, "final_train_accuracy": float,
    "best_val_loss": float, "best_val_accuracy": float, "best_epoch": int, "epochs_done": int,
    "final_val_map": float, "best_val_map": float,
}
METRIC_FIELDS: frozenset[str] = frozenset(_METRIC_TYPES)
"""The flat numbers at the top of a result: what the listing sorts by and the views show."""


class _Part(BaseModel):
    """A nested part: its core keys named, backend-specific extras kept."""

    model_config = ConfigDict(extra="allow")


class Interval(_Part):
    low: float | None
    high: float | None
    method: str | None = None
    level: float | None = None


class Prediction(_Part):
    subject: str
    label: str
    predicted: str
    probabilities: dict[str, float]


class MapScore(_Part):
    """A detector's mean average precision on a test set, with its interval over images."""

    map: float | None = Field(description="mean over classes (and IoU thresholds); None when no class has a box")
    per_class: list[float | None] = Field(description="each class's AP, in class order; None: no box of it")
    low: float | None
    high: float | None
    method: str | None = None
    level: float | None = None


class TestReport(_Part):
    """One test set's detail (``test``, ``test_best``): the metrics, their intervals, the chance
    level; the torch engine adds per-subject predictions."""

    n: int
    class_names: list[str] | None = None
    confusion_matrix: list[list[int]] | None = None
    loss: float | None = None
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    precision: float | None = None
    f1: float | None = None
    roc_auc: float | None = None
    intervals: dict[str, Interval] | None = None
    chance_level: float | None = None
    majority_class: str | None = None
    class_counts: dict[str, int] | None = None
    evaluated: str | None = None
    predictions: list[Prediction] | None = None
    n_objects: int | None = Field(None, description="detection: the boxes among the n test images")
    map_voc: MapScore | None = Field(None, description="detection: VOC mAP at IoU 0.5, difficult boxes ignored")
    map_coco: MapScore | None = Field(None, description="detection: COCO mAP over IoU 0.50:0.05:0.95")


class InputFitting(_Part):
    """How an MXNet task's images were fitted to the asked ``data_shape`` (MXServer's
    ``data_param.shapes``, ``img_shapes``), as MXNet's ImageIter fits them."""

    model_config = ConfigDict(extra="allow", serialize_by_alias=True)

    from_: list[int] = Field(alias="from", description="the stored images' [C, H, W]")
    to: list[int] = Field(description="the [C, H, W] the network was fed")
    how: str


class Contract(_Part):
    """What a fine-tune or evaluation of this task's weights must match."""

    model: str
    classes: int
    class_names: list[str]
    regions: int | None = None  # torch
    node_features: int | None = None  # torch
    backend: str | None = None  # mxnet
    image_shape: list[int] | None = None  # mxnet


class _Described(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_type: str | None = None
    model: str | None = None
    backend: str | None = Field(None, description="'mxnet' for the MXNet backend; absent for torch")
    network: str | None = Field(None, description="the MXNet network")
    target: str | None = Field(None, description="MXNet: 'detection' for a detector; absent for a classifier")
    data_shape: list[int] | None = Field(None, description="detection: the [C, H, W] the detector was fed")
    device: str | None = None
    stopped: bool | None = None
    early_stopped: bool | None = None
    epochs: int | None = None
    params: dict[str, Any] | None = None
    graph: dict[str, Any] | None = None
    final: dict[str, Any] | None = Field(None, description="the last epoch's metrics")
    best: dict[str, Any] | None = Field(None, description="the lowest-validation-loss epoch's metrics")
    history: list[dict[str, Any]] | None = None
    fine_tuned_from: dict[str, Any] | None = None
    evaluated: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    standard_baseline: dict[str, Any] | None = Field(
        None, description="the standard baseline fitted on the task's own training subjects (or folds) and "
                          "tested on its test subjects: its test report, the paired differences (the task's "
                          "model minus the baseline), what it was fitted on and how long it took; or "
                          "{'skipped': why}")
    cv: dict[str, Any] | None = None
    nested_cv: dict[str, Any] | None = Field(None, description="nested cross-validation: per outer fold, the "
                                                                "configuration its inner CV chose and their scores")
    permutation_test: dict[str, Any] | None = None
    checkpoint_epoch: int | None = None
    input_fitting: InputFitting | None = Field(None, description="MXNet: the images fitted to the asked shape; "
                                                                 "absent when they were fed as stored")
    test: TestReport | None = None
    test_best: TestReport | None = None
    # Added by the runner
    contract: Contract | None = None
    splits: dict[str, Any] | None = Field(None, description="which subject went to which role")
    test_on_seen_subjects: bool | None = None
    groups_mixed: bool | None = Field(None, description="grouped data split subject by subject (split_by "
                                                        "'subjects'): a group may sit on two sides")
    resumed_from_epoch: int | None = None


TaskResult = create_model(
    "TaskResult", __base__=_Described, __doc__="A task's result as its producer writes it (no unknown keys).",
    **{name: (t | None, None) for name, t in _METRIC_TYPES.items()},
)


class StoredTaskResult(TaskResult):
    """A result as stored: any row, old ones included (unknown keys kept, none required)."""

    model_config = ConfigDict(extra="allow")


def result_json(**values: Any) -> dict[str, Any]:
    """``values`` checked as a TaskResult and returned JSON-ready with exactly the keys given.
    Raises pydantic.ValidationError for an unknown key or a value of the wrong type."""
    return TaskResult(**values).model_dump(mode="json", exclude_unset=True)


def metrics_of(result: dict[str, Any] | None) -> dict[str, float]:
    """The numbers of ``result`` under METRIC_FIELDS (what the views call its metrics)."""
    if not result:
        return {}
    return {k: v for k, v in result.items()
            if k in METRIC_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool)}


def with_intervals(result: dict[str, Any] | None) -> dict[str, dict[str, float | None]]:
    """Each metric of ``result`` that is not an interval's bound, with its 95% interval's bounds
    ({"value", "low", "high"}; None where it has none), in the result's order."""
    metrics = metrics_of(result)
    return {k: {"value": v, "low": metrics.get(f"{k}_low"), "high": metrics.get(f"{k}_high")}
            for k, v in metrics.items() if not _is_bound(k)}


def _is_bound(key: str) -> bool:
    stem, _, end = key.rpartition("_")
    return end in ("low", "high") and stem in METRIC_FIELDS
