"""The data roles of a task and which of them a task type reads, defined once (standard library
only: the API, the dispatcher and both workers import it).

A form names its datasets per role in ``<role>_data`` (``train_data``, ``val_data``,
``test_data``). Training (``dl_ts``, ``dl_ft``) reads its train and val data, and its test data
when ``enable_test``; an evaluation (``dl_ev``) reads its test data only.
"""

from __future__ import annotations

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
