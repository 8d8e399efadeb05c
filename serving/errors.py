"""What can go wrong answering a prediction, as data; each interface renders it in its own
envelope (KServe ``{"error"}``, TorchServe ``{"code", "type", "message"}``, Fractal
``{"http_status"}``, connectome-native ``{"error_num", "msg", "errors"}``)."""

from __future__ import annotations


class ServingError(Exception):
    status = 500
    kind = "internal"  # the metrics label: a small fixed set
    type_name = "InternalServerException"  # TorchServe's exception type names

    def __init__(self, message: str, *, field: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message, self.field, self.retry_after = message, field, retry_after


class BadInput(ServingError):
    status, kind, type_name = 422, "bad_input", "BadRequestException"


class BadRequest(ServingError):
    """The body cannot be read at all (not JSON, wrong content type)."""

    status, kind, type_name = 400, "bad_input", "BadRequestException"


class UnknownModel(ServingError):
    status, kind, type_name = 404, "not_found", "ModelNotFoundException"


class NotLoaded(ServingError):
    """Registered but not servable yet (exporting, loading): try again."""

    status, kind, type_name = 503, "loading", "ServiceUnavailableException"


class ModelFailed(ServingError):
    status, kind, type_name = 409, "failed_model", "ModelFailedException"


class TooLarge(ServingError):
    status, kind, type_name = 413, "too_large", "RequestEntityTooLargeException"


class Timeout(ServingError):
    status, kind, type_name = 503, "timeout", "ServiceUnavailableException"


class Unsupported(ServingError):
    status, kind, type_name = 409, "unsupported", "BadRequestException"
