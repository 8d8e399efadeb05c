"""The blob store: where artifacts' bytes live (weights, checkpoints, datasets, ONNX models).

PostgreSQL keeps the metadata (key, size, sha256, content type, owner); the bytes go to one
store chosen by ``TRAINYARD_ARTIFACT_URL``:

* ``file:///abs/path`` -- a directory (the default: ``$TRAINYARD_VAR_DIR/artifacts``);
* ``s3://bucket/prefix`` -- any S3-compatible service (AWS S3, MinIO, GCS's S3 API), through boto3.

Both stream both ways: ``put`` takes bytes, a readable file object or an iterator of bytes and
computes size and sha256 on the way; ``open`` returns a readable binary stream. A failed or
interrupted ``put`` leaves no object. This package is framework-free: the standard library,
boto3/botocore and ``contracts`` only.
"""

from __future__ import annotations

from blobstore.base import BlobInfo, BlobNotFound, BlobStore, BlobTooLarge, Stored
from blobstore.config import get_store, reset_store, store_from_settings, store_from_url
from blobstore.keys import InvalidKey, validate_key, validate_prefix

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "InvalidKey",
    "Stored",
    "get_store",
    "reset_store",
    "store_from_settings",
    "store_from_url",
    "validate_key",
    "validate_prefix",
]
