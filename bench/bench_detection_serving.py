"""Latency of one detection request at a fixed rate (open loop, p50/p99), trainyard's serving
role against a thin onnxruntime Flask app serving the same detector ONNX file, in the same run.

The detector is an SSD (``ssd_300_mobilenet0.25_custom``, 128×128 input) trained for 2 epochs
on 200 demo detection images and exported as a deploy exports it (made in .venv-mxnet:
``--make-onnx``). Both servers get the same 64×64 PNG as the raw body: trainyard's MMS
``/predictions/boxes`` (decode, resize, the batcher, the numpy NMS, the reply) and the
baseline's ``/predict`` (decode, resize, ``session.run``, the same NMS).

    .venv/bin/python bench/bench_detection_serving.py [--rate 20] [--seconds 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MXNET_PYTHON = ROOT / ".venv-mxnet" / "bin" / "python"


def make_onnx(out: Path) -> None:
    """In .venv-mxnet: train, export and verify the detector; write detector.onnx,
    contract.json and image.png under ``out``."""
    from contracts.mxserver_request import MxTrainParams
    from models.mxnet_backend.detection_demo import make_demo_detection
    from models.mxnet_backend.detector import DetectionJobSpec, run_detection_job
    from models.mxnet_backend.detector_export import export_detector, verify_detector
    from models.mxnet_backend.png import encode_png
    from tests.models.engine_helpers import Recorder

    demo = make_demo_detection(300, seed=0)
    spec = DetectionJobSpec("dl_ts", "ssd", MxTrainParams(num_epoch=2, batch_size=16, base_lr=0.02, seed=0),
                            demo.subset(range(200)), None, None)
    blob = run_detection_job(spec, Recorder()).weights
    exported = export_detector(blob)
    verify_detector(blob, exported, demo.subset(range(250, 300)), "test")
    (out / "detector.onnx").write_bytes(exported.onnx)
    (out / "contract.json").write_text(json.dumps(exported.contract))
    (out / "image.png").write_bytes(encode_png(demo.images[260]))


def register(env: dict, onnx: bytes, contract: dict) -> None:
    os.environ.update(env)
    from app.auth.bootstrap import ensure_admin
    from dao import model_queries
    from dao.db import session_scope
    from dao.model_queries import Registration

    ensure_admin()
    with session_scope() as session:
        model_queries.register(session, Registration("boxes", "1", "upload", contract=contract, onnx=onnx,
                                                     batch_size=1, min_worker=1, max_worker=1))


def main() -> None:
    from bench.bench_serving import AUTH, _stop, start
    from bench.openloop import Shot, run
    from tests.service.stack import ADMIN_TOKEN, free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per server")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="trainyard-bench-detection-"))
    subprocess.run([str(MXNET_PYTHON), str(Path(__file__).resolve()), "--make-onnx", str(tmp)], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    contract = json.loads((tmp / "contract.json").read_text())
    h, w, _ = contract["image_shape"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(TRAINYARD_VAR_DIR=str(tmp / "var"), TRAINYARD_NO_VENV="1", OMP_NUM_THREADS="1",
               TRAINYARD_ADMIN_TOKEN=ADMIN_TOKEN, PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
               TRAINYARD_GUNICORN_WORKERS="2", TRAINYARD_GUNICORN_THREADS="16")
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    register(env, (tmp / "detector.onnx").read_bytes(), contract)
    png = (tmp / "image.png").read_bytes()
    stops = []
    try:
        port, sport = free_port(), free_port()
        base = start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                      "bench.baseline_detection_serving:create_app()"],
                     {**env, "TRAINYARD_BIND": f"127.0.0.1:{port}", "BENCH_ONNX": str(tmp / "detector.onnx"),
                      "BENCH_INPUT": f"{h}x{w}"}, tmp / "baseline.log", f"http://127.0.0.1:{port}/ping")
        stops.append(lambda: _stop(base))
        serve = start(["./start.sh", "serve"], {**env, "TRAINYARD_SERVE_BIND": f"127.0.0.1:{sport}",
                                                "TRAINYARD_SERVE_WORKERS": "2", "TRAINYARD_SERVE_THREADS": "16"},
                      tmp / "serve.log", f"http://127.0.0.1:{sport}/v2/health/ready")
        stops.append(lambda: _stop(serve))
        headers = (("Content-Type", "image/png"), *AUTH.items())
        targets = {"baseline": Shot(f"http://127.0.0.1:{port}", "/predict", png, args.rate, args.seconds,
                                    headers=headers),
                   "trainyard-mms": Shot(f"http://127.0.0.1:{sport}", "/predictions/boxes", png, args.rate,
                                         args.seconds, headers=headers)}
        for shot in targets.values():  # warm both (sessions, first requests)
            run(Shot(shot.url, shot.path, shot.body, 10, 1.0, headers=shot.headers))
        rows = [{"server": name, "round": r, **run(shot)} for r in range(args.rounds) for name, shot in targets.items()]
    finally:
        for stop in reversed(stops):
            stop()
    summary = {name: {k: sorted(row[k] for row in rows if row["server"] == name)[args.rounds // 2]
                      for k in ("p50_ms", "p99_ms", "ok", "failed")} for name in targets}
    print(json.dumps({"rate": args.rate, "seconds": args.seconds, "rounds": args.rounds,
                      "median_of_rounds": summary, "rounds_detail": rows}, indent=2))
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"detection-serving-{stamp}.json").write_text(json.dumps({"args": vars(args), "rows": rows,
                                                                      "median_of_rounds": summary}, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-onnx":
        make_onnx(Path(sys.argv[2]))
    else:
        main()
