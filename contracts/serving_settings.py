"""How a served model is batched and scaled (MMS's names), and the names a served model may have:
one definition for the deploy form, MMS's management query, the registry columns and the
serving processes' batchers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(1, ge=1, le=1024, description="requests answered by one model call at most")
    max_batch_delay: float = Field(5.0, ge=0, le=10_000,
                                   description="milliseconds a batch waits to fill (MMS's name and unit)")
    min_worker: int = Field(1, ge=1, le=32, description="serving processes that load the model")
    max_worker: int | None = Field(None, ge=1, le=32, description="the most it may scale to (default: min_worker)")

    @model_validator(mode="after")
    def _workers(self) -> "ServingSettings":
        if self.max_worker is None:
            self.max_worker = self.min_worker
        if self.max_worker < self.min_worker:
            raise ValueError(f"max_worker ({self.max_worker}) must be at least min_worker ({self.min_worker})")
        return self

    @property
    def max_batch_delay_seconds(self) -> float:
        return self.max_batch_delay / 1000.0

    def columns(self) -> dict:
        return {"batch_size": self.batch_size, "max_batch_delay_ms": self.max_batch_delay,
                "min_worker": self.min_worker, "max_worker": self.max_worker}

