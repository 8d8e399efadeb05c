"""Which S3 client for the blob store: boto3 (s3transfer) versus obstore (Rust object_store),
upload and download throughput of one object against the same S3 endpoint in the same run.

    .venv/bin/pip install obstore      # for this bench only; not a dependency of trainyard
    .venv/bin/python bench/bench_blob_client.py                  # 100 MB, 3 rounds, a moto server
    .venv/bin/python bench/bench_blob_client.py --mb 200 --endpoint http://127.0.0.1:9000 \\
        --bucket bench --access-key minioadmin --secret-key minioadmin     # an existing MinIO

Without --endpoint it starts moto in server mode (tests/blobstore/moto_server.py) on a free
port. Each round runs every client in turn on the same bytes, with the same part size and the
same number of parts in flight:

* boto3       -- ``upload_fileobj`` from a BytesIO (seekable), ``get_object`` read in 1 MiB chunks;
* blobstore   -- trainyard's ``S3Store.put`` from a generator of 1 MiB chunks (not seekable,
                 sha256 on the way) and ``open`` read in 1 MiB chunks: boto3 plus our wrapper;
* obstore     -- ``obstore.put`` from bytes and ``obstore.get(...).stream()``.

It prints the median MB/s per client and direction, the client process's CPU seconds per
transfer (all threads; the server's CPU is not counted) and the obstore/boto3 ratios. moto is a
Python server: against it the server is the bottleneck and the figures say more about CPU per
transfer than about what either client can reach against MinIO or S3.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1 << 20
READ = MIB


def _data(mb: int) -> bytes:
    block = hashlib.sha256(b"bench").digest() * (MIB // 32)
    return b"".join(i.to_bytes(8, "big") + block[8:] for i in range(mb))


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _drain(stream) -> int:
    n = 0
    while chunk := stream.read(READ):
        n += len(chunk)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part-mb", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="parts in flight, both clients")
    parser.add_argument("--endpoint", help="an S3 endpoint to use instead of starting moto")
    parser.add_argument("--bucket", default="bench-blob-client")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--access-key", default="testing")
    parser.add_argument("--secret-key", default="testing")
    args = parser.parse_args()

    import contextlib

    from tests.blobstore.moto_server import moto_server

    with contextlib.ExitStack() as stack:
        if args.endpoint:
            endpoint = args.endpoint
        else:
            endpoint = stack.enter_context(moto_server()).endpoint_url
        run(args, endpoint)


def run(args: argparse.Namespace, endpoint: str) -> None:
    import boto3
    import obstore
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from obstore.store import S3Store as ObStore

    from blobstore import store_from_url

    data = _data(args.mb)
    size = len(data)
    expected = hashlib.sha256(data).digest()
    part = args.part_mb * MIB
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=args.region, aws_access_key_id=args.access_key,
        aws_secret_access_key=args.secret_key,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=max(10, 2 * args.threads),
                      request_checksum_calculation="when_required", response_checksum_validation="when_required"))
    try:
        client.create_bucket(Bucket=args.bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    transfer = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=args.threads)
    ours = store_from_url(f"s3://{args.bucket}", endpoint_url=endpoint, region=args.region,
                          access_key_id=args.access_key, secret_access_key=args.secret_key, path_style=True,
                          part_size_mb=args.part_mb, transfer_threads=args.threads)
    ob = ObStore(args.bucket, endpoint=endpoint, region=args.region, access_key_id=args.access_key,
                 secret_access_key=args.secret_key, virtual_hosted_style_request=False,
                 client_options={"allow_http": True})

    def boto3_up(key):
        client.upload_fileobj(io.BytesIO(data), args.bucket, key, Config=transfer)

    def boto3_down(key):
        return _drain(client.get_object(Bucket=args.bucket, Key=key)["Body"])

    def ours_up(key):
        stored = ours.put(key, (data[i:i + READ] for i in range(0, size, READ)))
        assert stored.size == size

    def ours_down(key):
        with ours.open(key) as stream:
            return _drain(stream)

    def ob_up(key):
        obstore.put(ob, key, data, chunk_size=part, max_concurrency=args.threads)

    def ob_down(key):
        n = 0
        for chunk in obstore.get(ob, key).stream(min_chunk_size=READ):
            n += len(chunk)
        return n

    clients = {"boto3": (boto3_up, boto3_down), "blobstore": (ours_up, ours_down), "obstore": (ob_up, ob_down)}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_ in range(args.rounds):
        for name, (up, down) in clients.items():
            key = f"bench/{name}-{uuid.uuid4().hex}"
            with Timer() as t_up:
                up(key)
            with Timer() as t_down:
                got = down(key)
            assert got == size, (name, got, size)
            if round_ == 0:  # the bytes, checked once, outside the timing
                body = client.get_object(Bucket=args.bucket, Key=key)["Body"].read()
                assert hashlib.sha256(body).digest() == expected, name
                del body
            client.delete_object(Bucket=args.bucket, Key=key)
            results.setdefault((name, "upload"), []).append((t_up.wall, t_up.cpu))
            results.setdefault((name, "download"), []).append((t_down.wall, t_down.cpu))
            print(f"round {round_ + 1} {name:10s} up {size / MIB / t_up.wall:7.1f} MB/s   "
                  f"down {size / MIB / t_down.wall:7.1f} MB/s", flush=True)

    print(f"\n{args.mb} MB object, {args.part_mb} MB parts, {args.threads} in flight, {endpoint}, "
          f"median of {args.rounds} rounds")
    print(f"{'client':10s} {'direction':9s} {'MB/s':>8s} {'client CPU s':>13s}")
    medians = {}
    for (name, direction), runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        medians[name, direction] = (size / MIB / wall, cpu)
        print(f"{name:10s} {direction:9s} {size / MIB / wall:8.1f} {cpu:13.2f}")
    for direction in ("upload", "download"):
        ob_rate, ob_cpu = medians["obstore", direction]
        b_rate, b_cpu = medians["boto3", direction]
        print(f"obstore/boto3 {direction}: {ob_rate / b_rate:.2f}x throughput, {ob_cpu / b_cpu:.2f}x client CPU")


if __name__ == "__main__":
    main()
