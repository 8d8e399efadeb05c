"""What a task form implies, defined once (standard library only: the API, the dispatcher and
both workers import it): the data roles a task type reads, and where the task may run.

A form names its datasets per role in ``<role>_data`` (``train_data``, ``val_data``,
``test_data``). Training (``dl_ts``, ``dl_ft``) reads its train and val data, and its test data
when ``enable_test``; an evaluation (``dl_ev``) reads its test data only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("train", "val", "test")
FORM_FIELDS = {role: f"{role}_data" for role in ROLES}
DATA_FIELDS = tuple(FORM_FIELDS.values())


def used_roles(task_type: str, enable_test: bool) -> tuple[str, ...]:
    """The roles a task of ``task_type`` reads, in ROLES order."""
    if task_type == "dl_ev":
        return ("test",)
    return ROLES if enable_test else ("train", "val")


def used_fields(task_type: str, enable_test: bool) -> tuple[str, ...]:
    """The form fields of used_roles: ``train_data``, ..."""
    return tuple(FORM_FIELDS[r] for r in used_roles(task_type, enable_test))


DEVICES = ("auto", "gpu", "cpu")


@dataclass(frozen=True)
class Requirements:
    """The form's ``requirements``: what the dispatcher places by (tasks.placement) and what an
    MXNet worker picks its device by; the API's form validates the same names and defaults."""

    device: str = "auto"  # "auto": a GPU when any live worker has one, else the CPU
    min_free_memory_mb: int = 0

    @classmethod
    def from_form(cls, form: dict[str, Any]) -> "Requirements":
        raw = form.get("requirements") or {}
        return cls(device=str(raw.get("device", cls.device)).lower(),
                   min_free_memory_mb=int(raw.get("min_free_memory_mb", cls.min_free_memory_mb)))
