"""The NEURO-LEARN task form, field for field, plus the optional fields trainyard adds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.schemas.numbers import Float, Int

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DatasetName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _one_or_many(value: Any) -> Any:
    """The original documents the data fields as STRING and sends lists; accept both."""
    return [value] if isinstance(value, str) else value


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


DatasetList = Annotated[list[DatasetName], BeforeValidator(_one_or_many), Field(max_length=20)]


def _one_model(value: Any) -> Any:
    """NEURO-LEARN's web client picks the model in a multi-select and sends a list."""
    if isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"one model per task: send a name or a one-element list, not {len(value)} models")
        return value[0]
    return value


def _no_cv(value: Any) -> Any:
    if value is not None and str(value).strip().lower() not in ("", "none"):
        raise ValueError("cross-validation is not available yet; send '' or 'none'")
    return None


class ParamSet(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    learning_rate: Float = Field(gt=0, le=10)
    batch_size: Int = Field(ge=1, le=100_000)
    lr_step_size: Int = Field(ge=1, le=1_000_000)
    lr_decay: Float = Field(gt=0, le=1)
    epochs: Int = Field(ge=1, le=10_000)
    trained_task_id: Annotated[str | None, BeforeValidator(_empty_is_none)] = Field(
        default=None, max_length=40)
    seed: Int = Field(default=0, ge=0, le=2**31 - 1)
    optimizer: Literal["adam", "sgd"] = "adam"
    weight_decay: Float = Field(default=0.0, ge=0, le=1)
    edge_keep_percent: Float = Field(default=100.0, gt=0, le=100)
    save_model_state: bool = True  # False: keep no weights (the task cannot be fine-tuned or evaluated)


class TaskRequirements(BaseModel):
    """Where the task may run (trainyard's addition; absent means "auto")."""

    model_config = ConfigDict(extra="forbid")

    device: Literal["auto", "gpu", "cpu"] = "auto"
    min_free_memory_mb: Int = Field(default=0, ge=0, le=10_000_000)


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
    cv_type: Annotated[str | None, BeforeValidator(_no_cv)] = None
    requirements: TaskRequirements = Field(default_factory=TaskRequirements)



def missing_roles(form: NewTaskForm) -> list[tuple[str, str]]:
    """Cross-field problems of a well-typed form, each (field path, what is wrong)."""
    problems = []
    evaluating = form.task_type == "dl_ev"
    if not evaluating:
        problems += [(f, "needs at least one dataset") for f in ("train_data", "val_data")
                     if not getattr(form, f)]
    if (form.enable_test or evaluating) and not form.test_data:
        problems.append(("test_data", "needs at least one dataset to evaluate on" if evaluating
                         else "needs at least one dataset when enable_test is true"))
    if form.task_type in ("dl_ft", "dl_ev") and not form.param_set.trained_task_id:
        problems.append(("param_set.trained_task_id", f"is required for {form.task_type}"))
    return problems
