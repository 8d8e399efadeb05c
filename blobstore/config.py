"""Which store: ``TRAINYARD_ARTIFACT_URL`` and the ``TRAINYARD_ARTIFACT_*`` settings."""

from __future__ import annotations

import functools
import os
import urllib.parse
from pathlib import Path

from contracts.settings import Settings, get_settings

from blobstore.base import BlobStore


def default_artifact_url(settings: Settings) -> str:
    """``file://`` under ``$TRAINYARD_VAR_DIR/artifacts`` (made absolute)."""
    return (settings.var_dir / "artifacts").resolve().as_uri()


def resolved_artifact_url(settings: Settings) -> str:
    return settings.artifact_url or default_artifact_url(settings)


def store_from_url(url: str, *, endpoint_url: str = "", region: str = "", access_key_id: str = "",
                   secret_access_key: str = "", path_style: bool = False, part_size_mb: int = 8,
                   transfer_threads: int = 4) -> BlobStore:
    """A store for ``file:///abs/path`` or ``s3://bucket/prefix`` (the keyword arguments are for
    s3:// only)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise ValueError(f"a file:// artifact URL is file:///absolute/path, not {url!r}")
        path = urllib.parse.unquote(parts.path)
        if not path.startswith("/"):
            raise ValueError(f"a file:// artifact URL is file:///absolute/path, not {url!r}")
        from blobstore.file import FileStore

        return FileStore(Path(path))
    if parts.scheme == "s3":
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"an s3:// artifact URL is s3://bucket/prefix, not {url!r}")
        from blobstore.s3 import S3Store  # boto3 is imported only where s3:// is configured

        return S3Store(parts.netloc, urllib.parse.unquote(parts.path), endpoint_url=endpoint_url,
                       region=region, access_key_id=access_key_id, secret_access_key=secret_access_key,
                       path_style=path_style, part_size_mb=part_size_mb, transfer_threads=transfer_threads)
    raise ValueError(f"TRAINYARD_ARTIFACT_URL must start with file:// or s3://, not {url!r}")


def store_from_settings(settings: Settings) -> BlobStore:
    return store_from_url(
        resolved_artifact_url(settings),
        endpoint_url=settings.artifact_s3_endpoint_url,
        region=settings.artifact_s3_region,
        access_key_id=settings.artifact_s3_access_key_id,
        secret_access_key=settings.artifact_s3_secret_access_key.get_secret_value(),
        path_style=settings.artifact_s3_path_style,
        part_size_mb=settings.artifact_part_size_mb,
        transfer_threads=settings.artifact_transfer_threads,
    )


@functools.lru_cache(maxsize=1)
def get_store() -> BlobStore:
    """The process-wide store from the settings; ``reset_store()`` makes the next call build it
    again (tests, after ``reset_settings()``). A forked child starts without the parent's."""
    return store_from_settings(get_settings())


def reset_store() -> None:
    get_store.cache_clear()


# A forked child (a Celery prefork worker, a gunicorn worker) must not share the parent's
# HTTP connections: it builds its own store on first use.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=reset_store)
