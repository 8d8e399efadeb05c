"""The single typed settings object, read from ``TRAINYARD_*`` environment variables.

It lives in ``dao/`` (the lowest layer of ours) so that the API, the workers and the
reaper all read the same object without the workers importing the web app.
With no configuration everything runs on an embedded default under ``./var/``:
SQLite for the database and kombu's filesystem transport for the broker.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.statuses import Backend

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the longest a presigned S3 URL may live (SigV4)

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINYARD_", extra="ignore")

    # gunicorn (gunicorn.conf.py): where the API listens (``PORT=N`` alone means 127.0.0.1:N,
    # start.sh), worker processes (0: 2 x cores + 1, at most 8), seconds a worker may stay
    # silent on one request, log level and the process name ``ps`` shows. The serving role
    # (start.sh serve) runs with the serve_* values instead.
    bind: str = "127.0.0.1:8000"
    gunicorn_workers: int = Field(0, ge=0)
    gunicorn_timeout: int = Field(300, gt=0)
    log_level: str = "info"
    proc_name: str = "trainyard-api"
    serve_bind: str = "127.0.0.1:8001"
    serve_workers: int = Field(2, gt=0)
    serve_threads: int = Field(16, gt=0)
    # The backend a worker runs (start.sh worker --backend sets it).
    backend: Backend = "torch"

    var_dir: Path = Path("./var")
    database_url: str = ""  # empty: SQLite under var_dir
    broker_url: str = ""  # empty: filesystem broker under var_dir
    broker_poll_interval: float = Field(0.05, gt=0)  # filesystem transport only

    # Every wait on PostgreSQL is bounded, so a partitioned database gives a prompt 503, not a
    # request hung until gunicorn kills its worker. connect: libpq's minimum is 2 s.
    db_connect_timeout_seconds: int = Field(5, ge=2)
    db_pool_timeout_seconds: float = Field(10.0, gt=0)  # waiting for a free pooled connection
    db_statement_timeout_seconds: float = Field(300.0, gt=0)  # server side, per statement
    db_tcp_timeout_seconds: float = Field(30.0, gt=0)  # sent data unacknowledged; keepalives
    # A call (statement, commit) with no answer this long makes the process check that the server
    # accepts a new connection; if not (paused, hung) the call's connection is cut: 503, not a hang.
    # A server that answers lets a long query run, up to its statement timeout plus this. 0: off.
    db_query_deadline_seconds: float = Field(10.0, ge=0)

    max_upload_mb: int = Field(512, gt=0)
    max_json_kb: int = Field(256, gt=0)

    # Artifacts' bytes (weights, checkpoints, datasets, ONNX models; blobstore/): file:///abs/path
    # or s3://bucket/prefix (empty: file:// under var_dir/artifacts). For s3://: the endpoint of
    # an S3-compatible service (empty: AWS), its region and credentials (empty: boto3's own chain,
    # AWS_* variables or an instance role), path-style addressing (MinIO), the multipart part size
    # and the parts that go up at once (each part is held in memory while it does).
    artifact_url: str = ""
    artifact_s3_endpoint_url: str = ""
    artifact_s3_region: str = ""
    artifact_s3_access_key_id: str = ""
    artifact_s3_secret_access_key: SecretStr = SecretStr("")
    artifact_s3_path_style: bool = False
    artifact_part_size_mb: int = Field(8, ge=5, le=5120)
    artifact_transfer_threads: int = Field(4, ge=1, le=64)
    # A download of an object in s3:// answers a redirect to a presigned URL that lives this long
    # (the client fetches the bytes from the store itself); 0: the API streams them, as for file://.
    artifact_presign_seconds: int = Field(300, ge=0, le=MAX_PRESIGN_SECONDS)
    # The reaper's garbage collection of the store: how often, and how old an object no row names
    # must be before it goes (younger ones may belong to a transaction still being written).
    blob_gc_interval_seconds: float = Field(3600.0, gt=0)
    blob_gc_grace_seconds: float = Field(3600.0, ge=0)
    # A succeeded task's resume checkpoints (the last and the best epoch's training state) are
    # deleted when it finishes; true keeps them.
    keep_resume_checkpoints: bool = False

    lease_seconds: float = Field(30.0, gt=0)
    heartbeat_seconds: float = Field(5.0, gt=0)
    reaper_interval_seconds: float = Field(10.0, gt=0)
    requeue_after_seconds: float = Field(60.0, gt=0)
    max_attempts: int = Field(3, gt=0)
    visibility_timeout_seconds: int = Field(12 * 3600, gt=0)

    torch_queue: str = "torch"
    mxnet_queue: str = "mxnet"
    # "any": a torch task's "auto" device means a GPU when a live worker has one, else the CPU.
    # "gpu": "auto" always waits for a GPU (a cluster that scales GPU workers from zero).
    auto_device: Literal["any", "gpu"] = "any"
    # How long a process, having seen no GPU worker of a backend, skips the workers query when
    # placing (a GPU worker that joins is seen within it; 0: query every time).
    no_gpu_memory_seconds: float = Field(1.0, ge=0)
    # Nested cross-validation (a form's param_grid): the most training runs one task may make
    # (contracts.param_grid.nested_runs); a form over it is refused with 422 giving the count.
    max_nested_cv_runs: int = Field(200, gt=0)

    # Model serving (``start.sh serve``): how often a serving process polls the registry, the
    # threads one model instance's onnxruntime session uses, how long a request waits for its
    # batch, the ONNX upload limit and the optional prediction cache (entries per process; 0: off).
    serve_poll_seconds: float = Field(1.0, gt=0)
    serve_intra_op_threads: int = Field(1, gt=0)
    serve_request_timeout_seconds: float = Field(30.0, gt=0)
    serve_heartbeat_seconds: float = Field(5.0, gt=0)
    serve_cache_entries: int = Field(0, ge=0)
    serve_max_body_mb: int = Field(32, gt=0)
    serve_max_image_pixels: int = Field(4096 * 4096, gt=0)  # per image sent for prediction, from its header
    max_onnx_mb: int = Field(64, gt=0)

    # Prometheus: a worker's or the reaper's own metrics port (0: none; on the embedded default
    # the API's /metrics shows them instead), where it listens, whether the API's /metrics adds
    # the fleet's figures from the database, and how many projects are named in labels.
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_addr: str = "0.0.0.0"
    metrics_fleet: bool = False
    metrics_top_projects: int = Field(10, ge=0, le=100)

    # Logs: "text" or one JSON object per line; what one attempt of a task may keep in the
    # database; how long one follow request (server-sent events) streams before the client
    # reconnects (kept under TRAINYARD_GUNICORN_TIMEOUT: a sync worker streams it).
    log_format: Literal["text", "json"] = "text"
    task_log_max_lines: int = Field(2000, gt=0)
    task_log_max_kb: int = Field(512, gt=16)
    log_follow_seconds: float = Field(60.0, gt=0)

    # Waiting requests (GET /api/v0/tasks/<id>/events and ?wait= polls) hold one gunicorn thread
    # each: at most ``stream_slots`` of them per worker process (0: threads - 1, so one thread
    # always answers short requests); past it they answer 503 with Retry-After. One event
    # stream lasts ``events_stream_seconds`` (the client reconnects with Last-Event-ID) and
    # sends a heartbeat comment after ``events_heartbeat_seconds`` of silence.
    gunicorn_threads: int = Field(8, gt=0)
    stream_slots: int = Field(0, ge=0)
    events_stream_seconds: float = Field(120.0, gt=0)
    events_heartbeat_seconds: float = Field(15.0, gt=0)

    def stream_slots_per_worker(self) -> int:
        return self.stream_slots or max(1, self.gunicorn_threads - 1)

    # Access (docs/accounts.md): "off" only on a trusted network (a warning at every
    # start); the service admin's token (else the first start writes one to var/admin-token);
    # networks (CIDRs, comma-separated) whose scrapers read /metrics without a token; how long a
    # process trusts a verified token (a revocation reaches other processes within this).
    auth: Literal["on", "off"] = "on"
    admin_token: str = ""
    metrics_open_networks: str = ""
    token_cache_seconds: float = Field(5.0, ge=0)
    # How long a process remembers a project's own limits (a PATCH applies everywhere within it;
    # 0: read them every time).
    project_limits_cache_seconds: float = Field(5.0, ge=0)
    # A project's default limits (a project's own max_running / max_gpus override them; 0: none),
    # and how many bad tokens one client address may send a minute before it is refused (429).
    project_max_running: int = Field(0, ge=0)
    project_max_gpus: int = Field(0, ge=0)
    auth_failures_per_minute: int = Field(30, ge=1)
    forwarded_allow_ips: str = "127.0.0.1"  # gunicorn's setting too: proxies whose X-Forwarded-For counts

    def auto_device_for(self, backend: str) -> str:
        """``auto_device`` for the torch pools only: an MXNet ``auto`` task takes a GPU when a
        live MXNet worker has one (no cluster here runs MXNet GPU workers scaled from zero)."""
        return self.auto_device if backend == "torch" else "any"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'trainyard.db').resolve()}"

    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    def uses_filesystem_broker(self) -> bool:
        return self.resolved_broker_url().startswith("filesystem://")

    def uses_redis_broker(self) -> bool:
        return self.resolved_broker_url().startswith(("redis://", "rediss://"))

    def broker_dir(self) -> Path:
        return (self.var_dir / "broker").resolve()


def multiprocess_dir() -> str | None:
    """prometheus_client's own variable (not ours, so not in Settings, and read at each call:
    start.sh and tests set it per role): where the processes of one role add up their metrics."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; ``reset_settings()`` re-reads the environment (tests)."""
    settings = Settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return settings


def reset_settings() -> None:
    get_settings.cache_clear()


def main(names: list[str]) -> None:
    """``python -m contracts.settings NAME...``: the values, space-separated on one line, for
    start.sh (it takes its defaults from here instead of keeping copies)."""
    settings = get_settings()
    unknown = [n for n in names if n not in Settings.model_fields]
    if unknown:
        sys.exit(f"unknown setting(s): {', '.join(unknown)}")
    print(" ".join(str(getattr(settings, n)) for n in names))


if __name__ == "__main__":
    main(sys.argv[1:])

__all__ = ["Settings", "get_settings", "multiprocess_dir", "reset_settings"]
