"""``s3://bucket/prefix``: any S3-compatible service through boto3.

A put of a part or more from bytes (an engine's weights or checkpoint) or from an open file
(an upload werkzeug spooled to disk, a temporary file) is a multipart upload whose parts the
sending threads read from the source itself (``parts``), the sha256 computed in one pass beside
them: nothing is copied, whatever ``transfer_threads`` and the part size. Any other source (a
stream, an iterator, anything below one part) goes through s3transfer's managed upload
(``upload_fileobj``): one PutObject below the part size, else a multipart upload that holds up
to ``transfer_threads`` parts in memory (and more while they are signed and sent). A failure aborts the multipart upload, so no object and no stray
parts stay."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

import boto3
import botocore.config
import botocore.exceptions
from boto3.s3.transfer import TransferConfig

from blobstore.base import (DEFAULT_CONTENT_TYPE, BlobInfo, BlobNotFound, BlobStore, BlobTooLarge,
                            HashingReader, Source, Stored, check_presign_seconds)
from blobstore.parts import PartReader, Ranged, ranged
from blobstore.keys import validate_key, validate_prefix

log = logging.getLogger(__name__)
MIB = 1 << 20
MAX_PARTS = 10_000  # S3's limit for one multipart upload
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def _client_config(region: str | None, path_style: bool, pool: int) -> botocore.config.Config:
    options: dict[str, Any] = dict(
        region_name=region or None,
        signature_version="s3v4",
        s3={"addressing_style": "path" if path_style else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=120,
    )
    # botocore >= 1.36 adds a CRC checksum to every upload by default, which some S3-compatible
    # services (older MinIO, GCS's S3 API) refuse: only when an operation requires one.
    try:
        return botocore.config.Config(request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required", **options)
    except TypeError:
        return botocore.config.Config(**options)


class S3Store(BlobStore):
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, path_style: bool = False,
                 part_size_mb: int = 8, transfer_threads: int = 4) -> None:
        if not bucket:
            raise ValueError("an s3:// artifact URL names a bucket: s3://bucket/prefix")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
        self.bucket = bucket
        self.prefix = f"{prefix}/" if prefix else ""
        self.url = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint_url}" if endpoint_url else "")
        # a Session per store: boto3's default session is not safe to create clients from in threads
        session = boto3.session.Session(aws_access_key_id=access_key_id or None,
                                        aws_secret_access_key=secret_access_key or None,
                                        region_name=region or None)
        self.client = session.client("s3", endpoint_url=endpoint_url or None,
                                     config=_client_config(region, path_style, pool=max(10, transfer_threads * 2)))
        part = max(5, part_size_mb) * MIB  # S3's smallest part (but the last) is 5 MiB
        self.part_size, self.transfer_threads = part, max(1, transfer_threads)
        self.transfer_config = TransferConfig(
            multipart_threshold=part,
            multipart_chunksize=part,
            max_concurrency=transfer_threads,
            max_io_queue=transfer_threads * 2,
            use_threads=transfer_threads > 1,
        )
        # s3transfer's own setting, which boto3's TransferConfig does not take as an argument:
        # a stream that cannot seek is read part by part into memory; bound those parts
        self.transfer_config.max_in_memory_upload_chunks = transfer_threads
        # the classic s3transfer manager (not awscrt where it is installed), which honours the above
        if hasattr(self.transfer_config, "preferred_transfer_client"):
            self.transfer_config.preferred_transfer_client = "classic"

    def _name(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def put(self, key: str, data: Source, *, content_type: str = DEFAULT_CONTENT_TYPE,
            max_bytes: int | None = None) -> Stored:
        name = self._name(key)
        source = ranged(data, at_least=self.part_size)
        if source is not None:
            if max_bytes is not None and source.size > max_bytes:
                raise BlobTooLarge(f"more than {max_bytes} bytes")
            return Stored(key, source.size, self._put_parts(name, source, content_type))
        reader = HashingReader(data, max_bytes=max_bytes)
        self.client.upload_fileobj(reader, self.bucket, name, ExtraArgs={"ContentType": content_type},
                                   Config=self.transfer_config)
        if not reader.at_eof():  # never expected: s3transfer reads its source to the end
            self.delete(key)
            raise RuntimeError(f"upload of {key!r} stopped before the end of its source")
        return Stored(key, reader.size, reader.sha256)

    def _put_parts(self, name: str, source: Ranged, content_type: str) -> str:
        """Upload the source in parts, each read by the thread sending it; the hex sha256 of
        the whole, hashed in order while the parts go up. A file must not change meanwhile (a
        spooled upload, a temporary file)."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=name,
                                                     ContentType=content_type)["UploadId"]
        digest, futures, failed = hashlib.sha256(), [], []
        pool = ThreadPoolExecutor(max_workers=self.transfer_threads, thread_name_prefix="s3-part")
        try:
            for number, (offset, length) in enumerate(_part_ranges(source, self.part_size), start=1):
                if source.hash_range(offset, length, digest) != length:
                    raise OSError(f"the file to upload as {name!r} shrank while it was read")
                future = pool.submit(self._upload_part, name, upload, number, PartReader(source, offset, length))
                future.add_done_callback(lambda f: not f.cancelled() and f.exception() is not None and failed.append(f))
                futures.append(future)
                if failed:  # stop reading: the upload is lost anyway
                    failed[0].result()
            parts = [{"PartNumber": n, "ETag": f.result()} for n, f in enumerate(futures, start=1)]
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload,
                                                  MultipartUpload={"Parts": parts})
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # no part may land after the abort
            self._abort(name, upload)
            raise
        finally:
            pool.shutdown(wait=True)
        return digest.hexdigest()

    def _upload_part(self, name: str, upload: str, number: int, body: PartReader) -> str:
        return self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload, PartNumber=number,
                                       Body=body, ContentLength=len(body))["ETag"]

    def _abort(self, name: str, upload: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload)
        except Exception as exc:  # noqa: BLE001 - the bucket's lifecycle rule for incomplete uploads
            log.warning("multipart upload %s of %s not aborted: %s", upload, name, exc)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise BlobNotFound(f"no blob {key!r} in {self.url}") from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))  # no error when missing

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    def iter_keys(self, prefix: str = "") -> Iterator[BlobInfo]:
        validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        cut = len(self.prefix)
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", ()):
                yield BlobInfo(item["Key"][cut:], item["Size"], item["LastModified"])

    def presigned_url(self, key: str, seconds: int = 300, *, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        check_presign_seconds(seconds)
        params = {"Bucket": self.bucket, "Key": self._name(key)}
        if content_type:
            params["ResponseContentType"] = content_type
        if disposition:
            params["ResponseContentDisposition"] = disposition
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def _part_ranges(source: Ranged, part_size: int) -> Iterator[tuple[int, int]]:
    """(offset, length) of each part: ``part_size``, larger where the source needs more than
    S3's 10,000 parts."""
    part = max(part_size, -(-source.size // MAX_PARTS))
    for offset in range(0, source.size, part):
        yield offset, min(part, source.size - offset)


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
