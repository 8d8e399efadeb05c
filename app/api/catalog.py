"""The registered networks and their input contracts (from plain data: no torch here)."""

from flask import Blueprint, jsonify

from contracts.catalog import all_models

bp = Blueprint("catalog", __name__, url_prefix="/api/v0")


@bp.get("/models")
def list_models():
    return jsonify({"models": [m.public() for m in all_models()]})
