"""The baseline for bench_service.py: the least a new_task endpoint can do with the same parts.

It parses the JSON body, inserts one row into PostgreSQL (a table of its own, ``bench_baseline``)
and LPUSHes one message to Redis, then answers 201 with the row's id. No validation, no ORM, no
Celery. Served by the same ``gunicorn.conf.py`` as trainyard:

    gunicorn -c gunicorn.conf.py 'bench.baseline_app:create_app()'

It reads ``TRAINYARD_DATABASE_URL`` (the same database as trainyard), ``BENCH_REDIS_URL`` and
``BENCH_REDIS_KEY`` (the list it pushes to).
"""

from __future__ import annotations

import json
import os

import redis
from flask import Flask, jsonify, request
from sqlalchemy import Engine, create_engine, text

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_baseline ("
    " id BIGSERIAL PRIMARY KEY, form JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
INSERT = text("INSERT INTO bench_baseline (form) VALUES (CAST(:form AS JSONB)) RETURNING id")


def make_engine(url: str) -> Engine:
    """The same pool settings as dao/db.py, so the comparison is about the request path."""
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create_app() -> Flask:
    engine = make_engine(os.environ["TRAINYARD_DATABASE_URL"])
    broker = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    key = os.environ["BENCH_REDIS_KEY"]
    app = Flask(__name__)

    @app.post("/api/v0/new_task")
    def new_task():
        form = request.get_json(silent=True)
        if not isinstance(form, dict):
            return jsonify({"error_num": 1, "msg": "the body must be a JSON object"}), 400
        body = json.dumps(form)
        with engine.begin() as conn:
            row_id = conn.execute(INSERT, {"form": body}).scalar_one()
        broker.lpush(key, json.dumps({"id": row_id, "form": form}))
        return jsonify({"error_num": 0, "msg": "queued", "task_form": {**form, "task_id": str(row_id)}}), 201

    @app.get("/ping")
    def ping():
        return jsonify({"health": "healthy!"})

    return app
