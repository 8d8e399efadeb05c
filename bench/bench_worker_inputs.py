"""A worker reading its inputs from the blob store: peak RSS and time of loading a stored dataset and a
checkpoint the old way (the object's bytes in memory, then parsed) against the new way
(``dao.blobs.local_file``: the store's own file on ``file://``, a temporary file streamed from
``s3://``, parsed in place), on ``file://`` and ``s3://`` (moto) in one run (issue 29).

    .venv/bin/python bench/bench_worker_inputs.py                 # 200 MiB dataset, 50 MiB checkpoint
    .venv/bin/python bench/bench_worker_inputs.py --dataset-mib 50 --checkpoint-mib 20 --repeats 1

The parent makes the inputs once in a temporary directory: a connectome dataset
(``ConnectomeDataset.to_npz_bytes`` of random float32 matrices, 116 regions, ``--dataset-mib`` of
arrays) and a torch checkpoint (``models.weights.save_checkpoint`` of ``--checkpoint-mib`` of
float32 tensors), and puts both into a ``file://`` store and a bucket of a moto server. Each
measurement is a fresh child in the worker's environment that builds its store (the boto3 client
included), resets its peak RSS (``/proc/self/clear_refs``), loads one input one way and keeps the
result: its ``VmHWM`` above the RSS before the load is what loading costs, the result included.

* ``dataset``    -- ``ConnectomeDataset.from_npz`` (what ``tasks/job_inputs.py`` does per dataset);
* ``checkpoint`` -- ``models.weights.load_checkpoint`` (a torch resume);
* ``ckpt-bytes`` -- the checkpoint's bytes only (``bytes``: ``dao.blobs.read``; ``file``:
                    ``local_file(...).read()``);
* ``torch-resume`` -- a torch worker starting a resume: the spec's ``resume_checkpoint`` (the
                    bytes, as before; the local file, as ``tasks/job_inputs.py`` now opens it)
                    and ``load_checkpoint`` of it, both kept, as during the run;
* ``mx-start``   -- an MXNet worker starting a fine-tune or evaluation from a parent checkpoint
                    of ``--checkpoint-mib`` (a ``pack_checkpoint``-shaped zip): the spec's
                    ``init_weights`` (bytes before; the local file that ``tasks/mx_inputs.py`` now
                    opens) and ``unpack_checkpoint`` of it, both kept. Run by ``.venv-mxnet``'s
                    python (skipped without it).

Output: a table (median over ``--repeats`` of peak RSS growth and seconds) and
``bench/out/worker-inputs-<UTC time>.json``. Needs no database: the children read keys directly.
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIB = 1 << 20
BUCKET = "bench-worker-inputs"
REGIONS = 116
KEYS = {"dataset": "datasets/bench/dataset", "checkpoint": "tasks/bench/checkpoint", "ckpt-bytes": "tasks/bench/checkpoint",
        "torch-resume": "tasks/bench/checkpoint", "mx-start": "tasks/bench/mx-checkpoint"}
MX_PYTHON = ROOT / ".venv-mxnet" / "bin" / "python"


# -- in a child: the worker's environment ------------------------------------------------------
def _kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        return int(re.search(rf"^{field}:\s+(\d+) kB", fh.read(), re.M).group(1))


def _load(what: str, way: str, key: str):  # noqa: ANN202 - what the worker keeps
    from dao import blobs
    from models.datasets.types import ConnectomeDataset

    if what == "mx-start":
        load_checkpoint = None
    else:
        from models.weights import load_checkpoint

    if what == "ckpt-bytes":
        if way == "bytes":
            return blobs.read(key, None)
        with blobs.local_file(key, None) as fh:
            return fh.read()
    if what in ("torch-resume", "mx-start"):  # what the spec holds, and what the engine loads from it
        if what == "mx-start":
            from models.mxnet_backend.checkpoint import unpack_checkpoint as loader
        else:
            loader = load_checkpoint
        if way == "bytes":
            held = blobs.read(key, None)
            return held, loader(held)
        with blobs.local_file(key, None) as fh:
            return fh, loader(fh)
    loader = ConnectomeDataset.from_npz if what == "dataset" else load_checkpoint
    if way == "bytes":
        return loader(blobs.read(key, None))
    with blobs.local_file(key, None) as fh:
        return loader(fh)


def measure(spec: dict) -> dict:
    import dao.blobs  # noqa: F401 - everything imported before the baseline, as in a worker
    import models.datasets.types  # noqa: F401
    from blobstore import get_store

    if spec["what"] == "mx-start":
        import models.mxnet_backend.checkpoint  # noqa: F401 - mxnet: the MXNet worker's environment
    else:
        import models.weights  # noqa: F401

    assert get_store().exists(spec["key"])  # the store (a boto3 client) is built before the baseline
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    rss0 = _kib("VmRSS") * 1024
    t0 = time.perf_counter()
    kept = _load(spec["what"], spec["way"], spec["key"])
    seconds = time.perf_counter() - t0
    growth = _kib("VmHWM") * 1024 - rss0
    del kept
    return {"seconds": seconds, "rss_growth": growth}


# -- the parent --------------------------------------------------------------------------------
def make_inputs(tmp: Path, dataset_mib: int, checkpoint_mib: int) -> dict[str, Path]:
    import numpy as np
    import torch

    from models.datasets.types import ConnectomeDataset
    from models.weights import FORMAT, save_checkpoint

    rng = np.random.default_rng(0)
    n = dataset_mib * MIB // (REGIONS * REGIONS * 4)
    ds = ConnectomeDataset(conn=rng.standard_normal((n, REGIONS, REGIONS), dtype=np.float32),
                           labels=rng.integers(0, 2, n), subjects=tuple(f"sub-{i:05d}" for i in range(n)),
                           class_names=("HC", "SZ"))
    paths = {"dataset": tmp / "dataset.npz", "checkpoint": tmp / "checkpoint.pt"}
    paths["dataset"].write_bytes(ds.to_npz_bytes())
    del ds
    tensors = {f"w{i}": torch.randn(MIB // 4) for i in range(checkpoint_mib)}
    paths["checkpoint"].write_bytes(save_checkpoint({"format": FORMAT, "model_state": tensors, "epoch": 1}))
    paths["mx-checkpoint"] = tmp / "mx-checkpoint.zip"
    write_mx_checkpoint(paths["mx-checkpoint"], checkpoint_mib)
    return paths


def write_mx_checkpoint(path: Path, mib: int) -> None:
    """A zip shaped as ``models.mxnet_backend.checkpoint.pack_checkpoint`` makes it (meta.json and
    ``mib`` MiB of parameters, deflated), made without mxnet; ``unpack_checkpoint`` reads it."""
    import zipfile

    import numpy as np

    meta = {"network": "small-cnn", "class_names": ["a", "b"], "image_shape": [32, 32, 3], "epoch": 1,
            "format": "trainyard-mxnet-checkpoint/1"}
    params = np.random.default_rng(1).standard_normal(mib * MIB // 4, dtype=np.float32).tobytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("net.params", params)


def put_all(env: dict[str, str], paths: dict[str, Path]) -> None:
    """Each input under its key in the store ``env`` names (a child: the settings come from env)."""
    code = ("import sys, json; from blobstore import get_store; s = get_store()\n"
            "for key, path in json.loads(sys.argv[1]).items():\n"
            "    with open(path, 'rb') as fh: s.put(key, fh)\n")
    keys = {KEYS["dataset"]: str(paths["dataset"]), KEYS["checkpoint"]: str(paths["checkpoint"]),
            KEYS["mx-start"]: str(paths["mx-checkpoint"])}
    subprocess.run([sys.executable, "-c", code, json.dumps(keys)], cwd=ROOT, env=env, check=True)


def run_child(spec: dict, env: dict[str, str]) -> dict:
    python = str(MX_PYTHON) if spec["what"] == "mx-start" else sys.executable
    out = subprocess.run([python, __file__, "--child", json.dumps(spec)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"child {spec} failed:\n{out.stdout[-2000:]}{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(TRAINYARD_VAR_DIR=str(tmp / "var"), TMPDIR=str(tmp), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--dataset-mib", type=int, default=200)
    ap.add_argument("--checkpoint-mib", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3, help="fresh children per (input, store, way)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(json.loads(args.child))))
        return

    from tests.blobstore.moto_server import moto_server

    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"trainyard-inputbench-{uuid.uuid4().hex[:8]}-"))
    try:
        paths = make_inputs(tmp, args.dataset_mib, args.checkpoint_mib)
        sizes = {k: p.stat().st_size for k, p in paths.items()}
        env = base_env(tmp)
        with moto_server() as moto:
            moto.create_bucket(BUCKET)
            stores = {"file": {**env, "TRAINYARD_ARTIFACT_URL": (tmp / "store").as_uri()},
                      "s3": {**env, **moto.env(BUCKET, "bench")}}
            for store_env in stores.values():
                put_all(store_env, paths)
            raw: dict[str, list[dict]] = {}
            for _ in range(args.repeats):  # interleaved: a drifting machine load hits every row alike
                for what in [w for w in KEYS if w != "mx-start" or MX_PYTHON.exists()]:
                    for store, store_env in stores.items():
                        for way in ("bytes", "file"):
                            got = run_child({"what": what, "way": way, "key": KEYS[what]}, store_env)
                            raw.setdefault(f"{what} {store} {way}", []).append(got)
                            print(f"{what:10s} {store:4s} {way:5s} {got['seconds']:.3f}s "
                                  f"+{got['rss_growth'] / MIB:.1f}MiB", flush=True)
        summary = {name: {"median_s": round(statistics.median(c["seconds"] for c in calls), 3),
                          "peak_rss_growth_mib": round(statistics.median(c["rss_growth"] for c in calls) / MIB, 1)}
                   for name, calls in raw.items()}
        print(f"\ndataset npz {sizes['dataset'] / MIB:.1f} MiB ({args.dataset_mib} MiB of arrays), "
              f"checkpoint {sizes['checkpoint'] / MIB:.1f} MiB, MXNet checkpoint "
              f"{sizes['mx-checkpoint'] / MIB:.1f} MiB; median of {args.repeats}")
        print(f"{'input store way':24s} {'seconds':>8s} {'peak rss+ MiB':>14s}")
        for name, row in summary.items():
            print(f"{name:24s} {row['median_s']:8.3f} {row['peak_rss_growth_mib']:14.1f}")
        report = {"sizes": sizes, "dataset_array_mib": args.dataset_mib, "repeats": args.repeats,
                  "host_cpus": os.cpu_count(), "load_avg": os.getloadavg(), "summary": summary, "raw": raw,
                  "wall_seconds": round(time.perf_counter() - started, 1)}
        out_dir = ROOT / "bench" / "out"
        out_dir.mkdir(exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        (out_dir / f"worker-inputs-{stamp}.json").write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
