"""The envelope each blueprint refuses in (the first part of a Flask endpoint's name), for the
error answers the document lists."""

from __future__ import annotations

from contracts import foreign_replies as f
from contracts import replies as r

ERROR_SHAPES = {
    "mms_management": f.TorchServeError, "fractal_models": f.FractalReply, "mxserver": r.ApiErrorReply,
    "kserve": f.KServeError, "mms": f.TorchServeError, "fractal": f.FractalReply,
    "connectome": f.ServingError, "serving_openapi": f.KServeError, "metrics": f.KServeError, "serving_metrics": f.KServeError,
}
DEFAULT_ERROR = r.ApiErrorReply
