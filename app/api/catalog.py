"""The registered networks and their input contracts (from plain data: no torch here)."""

from flask import Blueprint

from contracts.catalog import all_models
from contracts import replies as r
from webcommon.openapi.common import MODELS
from webcommon.openapi.spec_types import Op, documented

bp = Blueprint("catalog", __name__, url_prefix="/api/v0")


@bp.get("/models")
@documented(Op("The networks tasks can train", MODELS, {200: r.Catalog}, database=False))
def list_models():
    return r.Catalog(models=[m.public() for m in all_models()])
