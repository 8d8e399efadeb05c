"""A worker storing a checkpoint every epoch: time and peak RSS of the runner's ``on_checkpoint``
hook into PostgreSQL ``bytea`` (the baseline), ``file://`` and ``s3://`` (moto), in one run
(issue 29's measures).

    .venv/bin/python bench/bench_checkpoint_write.py                      # a 45 MiB random blob
    .venv/bin/python bench/bench_checkpoint_write.py --blob random:300    # a large checkpoint
    .venv/bin/python bench/bench_checkpoint_write.py --blob resnet18_v1 \\
        --child-python .venv-mxnet/bin/python                             # a real MXNet checkpoint
    ... --before                                                          # also HEAD's blobstore/

The parent (the main venv: moto, alembic) creates and drops its own PostgreSQL database
``trainyard_ckptbench_<random>``, migrates it, starts moto in server mode and keeps its files in
a temporary directory. The checkpoint is made once (``random:N``: N MiB of random bytes;
``resnet18_v1``: ``models/mxnet_backend/checkpoint.pack_checkpoint`` of a ResNet-18 v1 for 10
classes with its SGD-momentum trainer's states, after one step, as an MXNet task's per-epoch
``last`` checkpoint; needs ``--child-python`` of the MXNet venv). Then each path runs in a fresh
child (``--child-python``, the worker's environment): it reads the checkpoint into memory (the
engine's bytes), claims a task row and calls ``tasks.runner.TaskHooks.on_checkpoint("last", blob,
epoch)`` for ``--epochs`` epochs, each replacing the last (the new object is written, the old
one deleted after the commit), timing each call; its peak RSS above the RSS with the blob
already held (``VmHWM`` reset through ``/proc/self/clear_refs``) is what storing costs.

* ``bytea``  -- the row keeps the bytes (``task_artifacts.data``), what workers did before the
                store: the same hook's lock and transaction, the blob in the row;
* ``file``   -- the hook as it is, ``TRAINYARD_ARTIFACT_URL=file://...``;
* ``s3``     -- the hook as it is, on the moto server (``TRAINYARD_ARTIFACT_*`` part size and
                threads from the environment, else the defaults);
* ``--before`` adds ``file@HEAD`` and ``s3@HEAD``: the same with ``blobstore/`` as committed at
  ``HEAD`` (``git archive``), to measure a change in the store against what it replaces.

Paths are interleaved per epoch round; the table shows the median seconds per epoch's write and
the largest peak. Output: a table and ``bench/out/checkpoint-write-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
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
if str(ROOT) not in sys.path:  # a child's PYTHONPATH may put HEAD's blobstore/ before it
    sys.path.insert(0, str(ROOT))

MIB = 1 << 20
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BUCKET = "bench-checkpoints"
WORKER = "bench-worker"


# -- in a child: the worker's environment ------------------------------------------------------
def _kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.M).group(1))


def _reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _kib("VmRSS") * 1024


def pack_resnet(out: str) -> dict:
    """A ResNet-18 v1 checkpoint as an MXNet task's ``last`` one: parameters and trainer states."""
    import mxnet as mx
    from mxnet import autograd, gluon

    from models.mxnet_backend.checkpoint import CheckpointMeta, pack_checkpoint
    from models.mxnet_backend.networks import build_network

    net = build_network("resnet18_v1", 10)
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9}, kvstore=None)
    x, y = mx.nd.random.uniform(shape=(2, 3, 32, 32)), mx.nd.array([0, 1])
    with autograd.record():
        loss = gluon.loss.SoftmaxCrossEntropyLoss()(net(x), y)
    loss.backward()
    trainer.step(2)  # the momentum buffers exist, as after any epoch
    meta = CheckpointMeta(network="resnet18_v1", class_names=tuple(f"c{i}" for i in range(10)),
                          image_shape=(32, 32, 3), epoch=1, best_val_loss=1.0, best_epoch=1)
    blob = pack_checkpoint(net, trainer, meta)
    Path(out).write_bytes(blob)
    return {"bytes": len(blob)}


def _bytea_hook(claim, blob: bytes, epoch: int) -> None:  # noqa: ANN001 - a runner Claim
    """The hook as it was before the store: the same lock and transaction, the bytes in the row."""
    from dao import artifact_queries, task_queries
    from dao.db import session_scope
    from dao.tables import TaskArtifact

    with session_scope() as session:
        if task_queries.lock_if_owned(session, claim.task_id, claim.worker):
            row = session.get(TaskArtifact, (claim.task_id, artifact_queries.CHECKPOINT))
            if row is None:
                row = TaskArtifact(task_id=claim.task_id, kind=artifact_queries.CHECKPOINT)
                session.add(row)
            row.content_type, row.size, row.epoch = "application/octet-stream", len(blob), epoch
            row.sha256 = hashlib.sha256(blob).hexdigest()
            row.in_row, row.blob_key = blob, None


def _claimed_task():  # noqa: ANN202 - a runner Claim
    from dao import task_queries
    from dao.db import session_scope
    from tasks.runner import Claim

    with session_scope() as session:
        task_id = task_queries.insert_new_task(
            session, proj_id="bench", proj_name="bench", task_name="ckpt", task_type="dl_ts",
            model="resnet18_v1", backend="mxnet", queue="mxnet", form={"param_set": {}}, status="QUEUED")
        assert task_queries.claim_task(session, task_id, WORKER, "cpu")
    return Claim(task_id, WORKER, 1, "cpu")


def store_epochs(spec: dict) -> dict:
    """Call the hook for each epoch with the blob held in memory; per call: seconds and peak RSS
    above the RSS before it."""
    from tasks.runner import TaskHooks

    claim = _claimed_task()
    hooks = TaskHooks(claim, lease=None)
    blob = Path(spec["file"]).read_bytes()  # the engine's checkpoint, in memory
    calls = []
    for epoch in range(1, spec["epochs"] + 1):
        rss0 = _reset_peak()
        t0 = time.perf_counter()
        if spec["path"] == "bytea":
            _bytea_hook(claim, blob, epoch)
        else:
            hooks.on_checkpoint("last", blob, epoch)
        calls.append({"seconds": time.perf_counter() - t0, "rss_growth": _kib("VmHWM") * 1024 - rss0})
    import blobstore

    return {"bytes": len(blob), "calls": calls, "disowned": hooks.disowned, "blobstore": blobstore.__file__}


# -- the parent --------------------------------------------------------------------------------
def run_child(python: str, spec: dict, env: dict[str, str], pythonpath: str = "") -> dict:
    env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p)}
    out = subprocess.run([python, __file__, "--child", json.dumps(spec)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"child {spec.get('path')} failed:\n{out.stdout[-2000:]}{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def base_env(db_name: str, var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TRAINYARD_") or k.startswith("TRAINYARD_ARTIFACT_")}
    env.update(TRAINYARD_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{db_name}",
               TRAINYARD_VAR_DIR=str(var), OMP_NUM_THREADS="1", MXNET_ENGINE_TYPE="NaiveEngine")
    return env


def head_blobstore(tmp: Path) -> Path:
    """``blobstore/`` as committed at HEAD, in a folder to put first on PYTHONPATH."""
    folder = tmp / "head"
    folder.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD", "blobstore"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def make_blob(args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> tuple[Path, dict]:
    path = tmp / "checkpoint.bin"
    if args.blob.startswith("random:"):
        mib = int(args.blob.split(":", 1)[1])
        with path.open("wb") as out:
            for _ in range(mib):
                out.write(os.urandom(MIB))
        return path, {"kind": "random", "bytes": mib * MIB}
    if args.blob != "resnet18_v1":
        raise SystemExit(f"--blob is random:MiB or resnet18_v1, not {args.blob!r}")
    made = run_child(args.child_python, {"op": "pack", "file": str(path)}, env)
    return path, {"kind": "resnet18_v1 pack_checkpoint (params + SGD momentum states)", **made}


def summarize(raw: dict[str, list[dict]]) -> dict:
    out = {}
    for path, calls in raw.items():
        seconds = [c["seconds"] for c in calls]
        out[path] = {"median_s": round(statistics.median(seconds), 3), "min_s": round(min(seconds), 3),
                     "max_s": round(max(seconds), 3),
                     "peak_rss_growth_mib": round(max(c["rss_growth"] for c in calls) / MIB, 1)}
    base = out["bytea"]["median_s"]
    for row in out.values():
        row["x_bytea_time"] = round(row["median_s"] / base, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--blob", default="random:45", help="random:MiB, or resnet18_v1 (needs the MXNet venv)")
    ap.add_argument("--epochs", type=int, default=5, help="checkpoint writes per path")
    ap.add_argument("--child-python", default=sys.executable, help="the worker's interpreter")
    ap.add_argument("--before", action="store_true", help="also HEAD's blobstore/ (file@HEAD, s3@HEAD)")
    args = ap.parse_args()
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(pack_resnet(spec["file"]) if spec["op"] == "pack" else store_epochs(spec)))
        return

    import psycopg

    from tests.blobstore.moto_server import moto_server

    started = time.perf_counter()
    tag = uuid.uuid4().hex[:8]
    db_name = f"trainyard_ckptbench_{tag}"
    tmp = Path(tempfile.mkdtemp(prefix=f"trainyard-ckptbench-{tag}-"))
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    try:
        env = base_env(db_name, tmp / "var")
        subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        blob, made = make_blob(args, tmp, env)
        head = head_blobstore(tmp) if args.before else None
        with moto_server() as moto:
            moto.create_bucket(BUCKET)
            variants = {"bytea": (env, ""), "file": ({**env, "TRAINYARD_ARTIFACT_URL": (tmp / "store").as_uri()}, ""),
                        "s3": ({**env, **moto.env(BUCKET, "now")}, "")}
            if head is not None:
                variants["file@HEAD"] = ({**env, "TRAINYARD_ARTIFACT_URL": (tmp / "store-head").as_uri()}, str(head))
                variants["s3@HEAD"] = ({**env, **moto.env(BUCKET, "head")}, str(head))
            raw: dict[str, list[dict]] = {name: [] for name in variants}
            for name, (child_env, pythonpath) in variants.items():
                spec = {"op": "store", "path": name.split("@")[0], "file": str(blob), "epochs": args.epochs}
                result = run_child(args.child_python, spec, child_env, pythonpath)
                assert not result["disowned"], result
                raw[name] = result["calls"]
                assert ("@HEAD" in name) == result["blobstore"].startswith(str(tmp)), result["blobstore"]
                print(f"{name:10s} " + " ".join(f"{c['seconds']:.3f}s/+{c['rss_growth'] / MIB:.0f}MiB"
                                                for c in result["calls"]), flush=True)
        summary = summarize(raw)
        report = {"blob": made, "epochs": args.epochs, "child_python": args.child_python,
                  "artifact_env": {k: v for k, v in os.environ.items()
                                   if k.startswith("TRAINYARD_ARTIFACT_") and "SECRET" not in k},
                  "host_cpus": os.cpu_count(), "load_avg": os.getloadavg(), "summary": summary, "raw": raw}
        print(f"\ncheckpoint: {made['kind']}, {made['bytes'] / MIB:.1f} MiB; {args.epochs} writes per path")
        print(f"{'path':10s} {'median s':>9s} {'x bytea':>8s} {'min s':>7s} {'max s':>7s} {'peak rss+ MiB':>14s}")
        for name, row in summary.items():
            print(f"{name:10s} {row['median_s']:9.3f} {row['x_bytea_time']:8.2f} {row['min_s']:7.3f} "
                  f"{row['max_s']:7.3f} {row['peak_rss_growth_mib']:14.1f}")
        report["wall_seconds"] = round(time.perf_counter() - started, 1)
        out_dir = ROOT / "bench" / "out"
        out_dir.mkdir(exist_ok=True)
        out = out_dir / f"checkpoint-write-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"
        out.write_text(json.dumps(report, indent=2, default=str))
        print(f"\n{out.relative_to(ROOT)} ({report['wall_seconds']} s)")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
