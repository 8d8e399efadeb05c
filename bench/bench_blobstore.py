"""Issue 29's measures: the blob store (file://, s3:// on a moto server) against PostgreSQL
``bytea`` rows, the baseline, in the same run.

    .venv/bin/python bench/bench_blobstore.py                # 200 + 45 MiB blobs, 3 rounds, 300 MiB API upload
    .venv/bin/python bench/bench_blobstore.py --quick        # 20 + 5 MiB, 1 round, 30 MiB API upload
    .venv/bin/python bench/bench_blobstore.py --no-api       # skip phase 3

Needs PostgreSQL on postgres@127.0.0.1:5432 (trust auth); phase 3 also Redis (db 14, through
bench/service_stack.py). Creates and drops its own database ``trainyard_blobbench_<random>``,
starts moto in server mode (tests/blobstore/moto_server.py) on a free port, and keeps its files
in a temporary directory (``$TMPDIR``), removed at the end.

1. Throughput. Incompressible blobs (``--sizes``, MiB: the dataset and the checkpoint) are
   written to files first; each transfer then runs in a fresh child process, so its peak RSS
   increase (``VmHWM`` reset through ``/proc/self/clear_refs``, minus ``VmRSS`` just before the
   transfer) is its own:

   * ``bytea``   -- read the file, sha256 it, ``INSERT`` it as a ``bytea`` parameter (psycopg,
                    binary), commit; download: ``SELECT`` it with a binary cursor (the best case
                    for bytea: no hex text);
   * ``file``    -- ``store_from_url('file://...').put(key, <open file>)`` (streamed, sha256 on the
                    way, fsync) plus one metadata row (key, size, sha256, content type, owner);
                    download: the row, then ``open(key)`` read in 1 MiB chunks;
   * ``s3``      -- the same through ``s3://`` on the moto server (boto3; a multipart upload
                    whose parts the sending threads read from the file, ``blobstore/file_parts.py``).

   Rounds are interleaved (every path and size in turn, per round); the table shows the median.
   MB/s are MiB/s. The client's RSS only: PostgreSQL's and moto's memory are not counted.
2. ``pg_database_size`` growth (after ``CHECKPOINT``) per stored MiB for each path: bytea keeps
   the bytes (TOAST), the store paths write only the metadata rows (goal: < 1%).
3. Peak RSS of the real API's one gunicorn worker (``start.sh api`` via BenchStack) while a
   ``--api-mb`` MiB image archive is uploaded to ``POST /api/v0/datasets``, above the worker's
   idle RSS (goal: < 100 MiB), against file:// and s3:// (the moto server). There is no bytea
   baseline for this one: the bytea code path is gone. The s3:// upload is the worker's first
   use of the store, so its growth includes building the boto3 client (~25 MiB, once per process).

s3:// part size and transfer threads are the settings' (``TRAINYARD_ARTIFACT_PART_SIZE_MB``,
``TRAINYARD_ARTIFACT_TRANSFER_THREADS`` in the bench's environment, else the defaults), for
phase 1's store and phase 3's API alike; the report records them (``s3_tuning``).
The per-epoch checkpoint write time of an MXNet ResNet task is bench/bench_checkpoint_write.py
(the MXNet venv). Output: a table and ``bench/out/blobstore-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1 << 20
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKET = "bench-artifacts"
PATHS = ("bytea", "file", "s3")
DDL = """
CREATE TABLE blob_bytea (key text PRIMARY KEY, size bigint NOT NULL, sha256 text NOT NULL,
                         content_type text NOT NULL, owner text NOT NULL, data bytea NOT NULL);
CREATE TABLE blob_meta  (key text PRIMARY KEY, size bigint NOT NULL, sha256 text NOT NULL,
                         content_type text NOT NULL, owner text NOT NULL, store text NOT NULL);
"""


# -- one transfer, in a child process ------------------------------------------------------------
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.M).group(1))


def _reset_peak() -> int:
    """Reset VmHWM to the current RSS; returns the RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status_kib("VmRSS") * 1024


def child(spec: dict) -> dict:
    import hashlib

    import psycopg

    op, path, key, db = spec["op"], spec["path"], spec["key"], spec["db"]
    conn = psycopg.connect(db)
    store = None
    if path != "bytea":
        from blobstore import store_from_url

        store = store_from_url(spec["url"], **spec.get("options", {}))
        if path == "s3":
            store.exists("warm-up")  # the client and its connection pool, before the clock
    rss0 = _reset_peak()
    t0 = time.perf_counter()
    if op == "up" and path == "bytea":
        with open(spec["file"], "rb") as fh:
            data = fh.read()
        digest = hashlib.sha256(data).hexdigest()
        conn.execute("INSERT INTO blob_bytea VALUES (%s, %s, %s, %s, %s, %b)",
                     (key, len(data), digest, "application/octet-stream", "bench", data))
        conn.commit()
        n = len(data)
    elif op == "up":
        with open(spec["file"], "rb") as fh:
            stored = store.put(key, fh, content_type="application/octet-stream")
        conn.execute("INSERT INTO blob_meta VALUES (%s, %s, %s, %s, %s, %s)",
                     (key, stored.size, stored.sha256, "application/octet-stream", "bench", path))
        conn.commit()
        n = stored.size
    elif path == "bytea":
        cur = conn.cursor(binary=True)
        cur.execute("SELECT data FROM blob_bytea WHERE key = %s", (key,))
        data = cur.fetchone()[0]
        n = len(data)
    else:
        row = conn.execute("SELECT size FROM blob_meta WHERE key = %s", (key,)).fetchone()
        n = 0
        with store.open(key) as stream:
            while chunk := stream.read(MIB):
                n += len(chunk)
        assert n == row[0], (n, row)
    seconds = time.perf_counter() - t0
    peak = _status_kib("VmHWM") * 1024
    conn.close()
    if store is not None:
        store.close()
    return {"bytes": n, "seconds": seconds, "rss_before": rss0, "rss_peak": peak}


# -- the parent ----------------------------------------------------------------------------------
def write_blob(path: Path, mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(MIB))  # incompressible: TOAST cannot shrink it


def run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"child {spec['op']} {spec['path']} failed:\n{out.stdout}{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def db_size(db: str) -> int:
    import psycopg

    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def transfer_tuning() -> dict:
    """s3:// part size and transfer threads as the settings say (TRAINYARD_ARTIFACT_PART_SIZE_MB,
    TRAINYARD_ARTIFACT_TRANSFER_THREADS, else their defaults): phase 1's store and phase 3's
    API (BenchStack passes TRAINYARD_ARTIFACT_* through) use the same."""
    from contracts.settings import get_settings

    settings = get_settings()
    return {"part_size_mb": settings.artifact_part_size_mb, "transfer_threads": settings.artifact_transfer_threads}


def api_phase(tmp: Path, mib: int, moto) -> dict:
    """Phase 3: peak RSS of the API's one gunicorn worker during a ``mib`` MiB dataset upload."""
    from bench.service_stack import BenchStack
    from tests.service.stack import AUTH_HEADERS
    from tests.service.upload_memory import api_workers, measure_upload, multipart_file, stored_zip

    folder = tmp / "api"
    folder.mkdir()
    archive = stored_zip(folder, "cat/1.png", mib * MIB)
    results = {}
    stack = BenchStack(gunicorn_workers=1).create()
    try:
        for label, env in (("file", {"TRAINYARD_ARTIFACT_URL": ""}), ("s3", moto.env(BUCKET, "api"))):
            body, content_type = multipart_file(folder, "pets.zip", archive, {"kind": "image", "name": f"pets-{label}"})
            stack.env.update(env)
            stack.start_api(f"api-{label}")
            workers = api_workers(stack.procs[f"api-{label}"].pid)
            time.sleep(1.0)
            t0 = time.perf_counter()
            response, rss = measure_upload(stack.url + "/api/v0/datasets", AUTH_HEADERS, body, content_type,
                                           workers)
            seconds = time.perf_counter() - t0
            results[label] = {"status": response.status_code, "seconds": round(seconds, 2),
                              "rss_idle_mib": round(rss.before / MIB, 1), "rss_peak_mib": round(rss.peak / MIB, 1),
                              "rss_after_mib": round(rss.after / MIB, 1),
                              "growth_mib": round(rss.growth() / MIB, 1),
                              "goal_under_100_mib": rss.growth() < 100 * MIB and response.status_code == 202}
            if response.status_code != 202:
                results[label]["body"] = response.text[:300]
            stack.stop(f"api-{label}")
    finally:
        stack.close()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 45], help="blob sizes, MiB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--api-mb", type=int, default=300)
    ap.add_argument("--no-api", action="store_true")
    ap.add_argument("--quick", action="store_true", help="20 + 5 MiB, 1 round, a 30 MiB API upload")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.quick:
        args.sizes, args.rounds, args.api_mb = [20, 5], 1, 30

    import psycopg

    from tests.blobstore.moto_server import moto_server

    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    db_name = f"trainyard_blobbench_{tag}"
    db = f"postgresql://postgres@127.0.0.1:5432/{db_name}"
    tmp = Path(tempfile.mkdtemp(prefix=f"trainyard-blobbench-{tag}-"))
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    tuning = transfer_tuning()
    report: dict = {"sizes_mib": args.sizes, "rounds": args.rounds, "host_cpus": os.cpu_count(),
                    "s3_tuning": tuning, "load_avg_start": os.getloadavg()}
    try:
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(DDL)
        files = {}
        for mib in args.sizes:
            files[mib] = tmp / f"blob-{mib}.bin"
            write_blob(files[mib], mib)
        with moto_server() as moto:
            moto.create_bucket(BUCKET)
            targets = {
                "bytea": {},
                "file": {"url": (tmp / "store").as_uri()},
                "s3": {"url": f"s3://{BUCKET}/bench", "options": {**moto.store_options(), **tuning}},
            }
            raw: dict = {p: {m: {"up": [], "down": []} for m in args.sizes} for p in PATHS}
            growth: dict = {p: {"before": None, "stored_bytes": 0, "grew": 0} for p in PATHS}
            for rnd in range(args.rounds):
                order = PATHS[rnd % 3:] + PATHS[:rnd % 3]  # rotate who goes first
                for path in order:
                    before = db_size(db)
                    for mib in args.sizes:
                        key = f"bench/{path}/{mib}/{rnd}"
                        spec = {"path": path, "key": key, "db": db, "file": str(files[mib]), **targets[path]}
                        up = run_child({**spec, "op": "up"})
                        down = run_child({**spec, "op": "down"})
                        raw[path][mib]["up"].append(up)
                        raw[path][mib]["down"].append(down)
                        growth[path]["stored_bytes"] += up["bytes"]
                        for d, r in (("up", up), ("down", down)):
                            print(f"round {rnd + 1} {path:5s} {mib:4d} MiB {d:4s} {r['bytes'] / MIB / r['seconds']:8.1f} MiB/s"
                                  f"  rss +{(r['rss_peak'] - r['rss_before']) / MIB:7.1f} MiB", flush=True)
                    growth[path]["grew"] += db_size(db) - before
        report["raw"] = raw
        summary: dict = {}
        for path in PATHS:
            summary[path] = {}
            for mib in args.sizes:
                row = {}
                for d in ("up", "down"):
                    runs = raw[path][mib][d]
                    row[f"{d}_mib_s"] = round(statistics.median(r["bytes"] / MIB / r["seconds"] for r in runs), 1)
                    row[f"{d}_rss_mib"] = round(statistics.median((r["rss_peak"] - r["rss_before"]) / MIB
                                                                  for r in runs), 1)
                summary[path][mib] = row
        for path in PATHS:
            for mib in args.sizes:
                base, row = summary["bytea"][mib], summary[path][mib]
                for d in ("up", "down"):
                    row[f"{d}_vs_bytea"] = round(row[f"{d}_mib_s"] / base[f"{d}_mib_s"], 2)
        report["throughput"] = summary
        report["db_growth"] = {
            p: {"stored_mib": round(g["stored_bytes"] / MIB, 1), "db_grew_kib": round(g["grew"] / 1024, 1),
                "growth_per_stored_mib_pct": round(100 * g["grew"] / g["stored_bytes"], 4),
                "goal_under_1pct": p == "bytea" or g["grew"] < 0.01 * g["stored_bytes"]}
            for p, g in growth.items()}
        print()
        print(f"{'path':6s} {'MiB':>4s} {'up MiB/s':>9s} {'x bytea':>8s} {'rss+ MiB':>9s} "
              f"{'down MiB/s':>11s} {'x bytea':>8s} {'rss+ MiB':>9s}")
        for path in PATHS:
            for mib in args.sizes:
                r = summary[path][mib]
                print(f"{path:6s} {mib:4d} {r['up_mib_s']:9.1f} {r['up_vs_bytea']:8.2f} {r['up_rss_mib']:9.1f} "
                      f"{r['down_mib_s']:11.1f} {r['down_vs_bytea']:8.2f} {r['down_rss_mib']:9.1f}")
        print()
        print(f"{'path':6s} {'stored MiB':>10s} {'db grew KiB':>12s} {'per stored MiB':>15s}")
        for p, g in report["db_growth"].items():
            print(f"{p:6s} {g['stored_mib']:10.1f} {g['db_grew_kib']:12.1f} {g['growth_per_stored_mib_pct']:14.4f}%")
        if not args.no_api:
            with moto_server() as moto:
                moto.create_bucket(BUCKET)
                report["api_upload"] = {"mib": args.api_mb, **api_phase(tmp, args.api_mb, moto)}
            print()
            print(f"API worker during a {args.api_mb} MiB dataset upload (goal: < 100 MiB above idle):")
            for label in ("file", "s3"):
                r = report["api_upload"][label]
                print(f"  {label:4s} status {r['status']} in {r['seconds']} s: idle {r['rss_idle_mib']} MiB, "
                      f"peak {r['rss_peak_mib']} MiB, growth {r['growth_mib']} MiB, goal met: {r['goal_under_100_mib']}")
        report["load_avg_end"] = os.getloadavg()
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        out_dir = ROOT / "bench" / "out"
        out_dir.mkdir(exist_ok=True)
        out = out_dir / f"blobstore-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"\n{out.relative_to(ROOT)} ({report['wall_seconds']} s)")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
