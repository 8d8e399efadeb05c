"""The NEURO-LEARN task form, field for field, plus the optional fields trainyard adds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from contracts.numbers import Float, Int
from contracts.param_grid import INNER_FOLDS_DEFAULT, INNER_FOLDS_MAX, INNER_FOLDS_MIN, ParamGrid, grid_problems
from contracts.task_needs import DEVICES, Requirements, used_fields

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A sweep id groups the tasks of one hyper-parameter search (``trainyard sweep`` makes one).
SweepId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
DatasetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# The datasets one role of a task (train_data, val_data, test_data) may name.
MAX_DATASETS = 20


def _one_or_many(value: Any) -> Any:
    """The original documents the data fields as STRING and sends lists; accept both. A list
    past MAX_DATASETS is refused whole, before any item is looked at: one error, not one per item."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and len(value) > MAX_DATASETS:
        raise ValueError(f"names at most {MAX_DATASETS} datasets, not {len(value)}")
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


CV_TYPES = ("kfold", "stratified_kfold", "loo")  # scikit-learn's splitters (models.cv)
NO_CV = ("", "none")
SPLIT_BY = ("groups", "subjects")  # whole groups on one side, or subject by subject


def _cv_name(value: Any) -> Any:
    """NEURO-LEARN's client sends null, '' or 'none' for no cross-validation."""
    return "" if value is None else _lower(value)


def cross_validated(cv_type: str | None) -> bool:
    """Whether a form's cv_type (as sent or as stored) asks for cross-validation."""
    return _cv_name(cv_type) not in NO_CV


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


DatasetList = Annotated[list[DatasetName], BeforeValidator(_one_or_many), Field(max_length=MAX_DATASETS)]


def _one_model(value: Any) -> Any:
    """NEURO-LEARN's web client picks the model in a multi-select and sends a list."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"one model per task: send a name or a one-element list, not {len(value)} models")
        return value[0]
    return value


class HyperParams(BaseModel):
    """The hyper-parameters the torch engine reads, with their defaults and bounds: the form's
    ``param_set`` extends it and the worker hands the engine one built from the stored form."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    learning_rate: Float = Field(gt=0, le=10)
    batch_size: Int = Field(ge=1, le=100_000)
    lr_step_size: Int = Field(ge=1, le=1_000_000)
    lr_decay: Float = Field(gt=0, le=1)
    epochs: Int = Field(ge=1, le=10_000)
    seed: Int = Field(default=0, ge=0, le=2**31 - 1)
    optimizer: Literal["adam", "sgd"] = "adam"
    weight_decay: Float = Field(default=0.0, ge=0, le=1)
    edge_keep_percent: Float = Field(default=100.0, gt=0, le=100,
                                     description="keep the strongest k% of edges by |weight|")
    patience: Int = Field(default=0, ge=0, le=10_000,
                          description="early stopping: epochs without a new lowest validation loss (0: off)")


class ParamSet(HyperParams):
    """One ``param_set`` of the form: the engine's hyper-parameters and what the service keeps."""

    model_config = ConfigDict(frozen=False)

    trained_task_id: Annotated[str | None, BeforeValidator(_empty_is_none)] = Field(
        default=None, max_length=40)
    save_model_state: bool = True  # False: keep no weights (the task cannot be fine-tuned or evaluated)


class TaskRequirements(BaseModel):
    """Where the task may run (trainyard's addition; absent means "auto")."""

    model_config = ConfigDict(extra="forbid")

    device: Literal[DEVICES] = Requirements.device
    min_free_memory_mb: Int = Field(default=Requirements.min_free_memory_mb, ge=0, le=10_000_000)


class NewTaskForm(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    proj_id: Name
    proj_name: Name
    task_name: Name
    task_type: Literal["dl_ts", "dl_ft", "dl_ev"]
    train_data: DatasetList = Field(default_factory=list)
    val_data: DatasetList = Field(default_factory=list)
    enable_test: bool
    test_data: DatasetList = Field(default_factory=list)
    model: Annotated[Name, BeforeValidator(_one_model)]
    param_set: ParamSet
    requirements: TaskRequirements = Field(default_factory=TaskRequirements)
    # True: test on subjects an ancestor trained or validated on; the result is then marked.
    allow_seen_test: bool = False
    # "groups": no group (site, scanner, family) on two sides of a split or fold; "subjects": split
    # subject by subject (the result is marked groups_mixed). Absent: "groups" where data has groups.
    split_by: Annotated[Literal[SPLIT_BY] | None, BeforeValidator(_empty_is_none)] = None
    # Cross-validation over the pooled subjects of every dataset named (see docs/evaluation.md).
    cv_type: Annotated[Literal[NO_CV + CV_TYPES], BeforeValidator(_cv_name)] = ""
    n_folds: Int = Field(default=5, ge=2, le=50)
    cv_repeats: Int = Field(default=1, ge=1, le=10)
    # Nested cross-validation (with cv_type): the configurations an inner CV on each outer training
    # fold chooses among, {hyper-parameter: [values]} (contracts.param_grid), and its inner folds.
    param_grid: Annotated[ParamGrid | None, BeforeValidator(_empty_is_none)] = None
    inner_folds: Int = Field(default=INNER_FOLDS_DEFAULT, ge=INNER_FOLDS_MIN, le=INNER_FOLDS_MAX)
    # > 0: retrain this many times on shuffled labels for a p-value of the test accuracy.
    n_permutations: Int = Field(default=0, ge=0, le=1000)
    sweep_id: Annotated[SweepId | None, BeforeValidator(_empty_is_none)] = None
    # True: no standard baseline beside the test result (models.standard_baseline).
    skip_baseline: bool = False

    @property
    def cross_validated(self) -> bool:
        return cross_validated(self.cv_type)


def missing_roles(form: NewTaskForm) -> list[tuple[str, str]]:
    """Cross-field problems of a well-typed form, each (field path, what is wrong)."""
    evaluating = form.task_type == "dl_ev"
    test_needs = ("needs at least one dataset to evaluate on" if evaluating
                  else "needs at least one dataset when enable_test is true")
    problems = [(f, test_needs if f == "test_data" else "needs at least one dataset")
                for f in used_fields(form.task_type, form.enable_test) if not getattr(form, f)]
    if evaluating and form.n_permutations:
        problems.append(("n_permutations", "a permutation test retrains the model; a dl_ev trains none"))
    if not evaluating and form.n_permutations and not (form.enable_test or form.cross_validated):
        problems.append(("n_permutations", "a permutation test scores test accuracy: it needs enable_test "
                                           "true or a cv_type"))
    if evaluating and form.cross_validated:
        problems.append(("cv_type", "cross-validation trains a model per fold; a dl_ev trains none"))
    if form.task_type in ("dl_ft", "dl_ev") and not form.param_set.trained_task_id:
        problems.append(("param_set.trained_task_id", f"is required for {form.task_type}"))
    return problems + grid_problems(form)
