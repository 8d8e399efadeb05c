"""Bodies of the accounts API: projects, members, tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

PROJECT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"
USER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,99}$"


class ProjectForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=PROJECT_ID)
    name: str | None = Field(None, max_length=200)


class MemberForm(BaseModel):
    """A user by name (made if new) and its role in the project."""

    model_config = ConfigDict(extra="forbid")

    user: str = Field(pattern=USER_NAME)
    role: Literal["viewer", "editor", "admin"]


class TokenForm(BaseModel):
    """``user``: another user's token (a service admin, or a project admin for members of the
    projects named). ``projects`` None: every project of the user. ``expires_in_seconds`` None:
    no expiry."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("token", min_length=1, max_length=100)
    user: str | None = Field(None, pattern=USER_NAME)
    projects: list[str] | None = Field(None, max_length=100)
    read_only: bool = False
    expires_in_seconds: int | None = Field(None, ge=1, le=10 * 365 * 86400)


class LimitsForm(BaseModel):
    """A project's limits; null: the service's default (TRAINYARD_PROJECT_MAX_*); 0: none.
    ``max_storage_mb``: its storage quota in MiB; null: no quota."""

    model_config = ConfigDict(extra="forbid")

    max_running: int | None = Field(None, ge=0, le=100_000)
    max_gpus: int | None = Field(None, ge=0, le=100_000)
    max_storage_mb: StrictInt | None = Field(None, ge=0, le=100_000_000)  # "5", true, 1.5: 422
