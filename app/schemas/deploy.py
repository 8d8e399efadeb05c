"""``POST /api/v0/tasks/<id>/deploy``'s body: serving settings plus the model's name."""

from __future__ import annotations

from pydantic import Field

from contracts.serving_settings import NAME, VERSION, ServingSettings


class DeployForm(ServingSettings):
    """``POST /api/v0/tasks/<id>/deploy``; every field optional."""

    name: str | None = Field(None, pattern=NAME)
    version: str | None = Field(None, pattern=VERSION)
    description: str = Field("", max_length=2000)
