"""Serving benchmark: open-loop load at fixed rates against trainyard's serving role (without
and with dynamic batching), a thin Flask + onnxruntime baseline under the same gunicorn settings,
and TorchServe when its venv exists (bench/.venv-torchserve, see bench/README.md), all on the
same SGN ONNX file and all running at once, measured in interleaved rounds. Prints p50/p99 per
rate, the highest rate each holds with p99 <= 10 ms and no failures in most rounds, server CPU
per request, ratios to the baseline, and the ONNX session's own CPU per prediction; trainyard is
also measured with the KServe binary tensor extension (no JSON numbers); writes
bench/out/serving-<UTC time>.json.

    .venv/bin/python bench/bench_serving.py                  # about 15 minutes with TorchServe
    .venv/bin/python bench/bench_serving.py --rates 100,300 --seconds 2 --rounds 1 --refine 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.openloop import Shot, run  # noqa: E402
from tests.service.stack import ADMIN_TOKEN, free_port  # noqa: E402

P99_GOAL_MS = 10.0
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the serving role's admin token; the baseline ignores it
JSON = {"Content-Type": "application/json", **AUTH}


def build_onnx(path: Path) -> np.ndarray:
    """A freshly initialised SGN for the demo contract (90 regions, 2 classes), exported with its
    preprocessing; returns one demo matrix to send. Latency does not depend on the weights."""
    import torch

    from models.datasets.synthetic import synthetic_aal90
    from models.networks import build_network
    from models.onnx_export import export_weights
    from models.weights import pack_weights

    ds = synthetic_aal90(n_subjects=4, seed=3)
    torch.manual_seed(0)
    net = build_network("SGN", regions=90, node_features=90, classes=2)
    meta = {"model": "SGN", "contract": {"model": "SGN", "regions": 90, "node_features": 90, "classes": 2,
                                         "class_names": list(ds.class_names)},
            "arch": net.arch, "graph": {"edge_keep_percent": 100.0}}
    exported = export_weights(pack_weights(net.state_dict(), meta), 0)
    path.write_bytes(exported.onnx)
    return ds.conn[0], exported.contract


def register(env: dict, onnx: bytes, contract: dict) -> None:
    """Two registry rows for the same file: "sgn" (no batching) and "sgn-batched"; the admin
    whose token (TRAINYARD_ADMIN_TOKEN) the load sends, as ``start.sh migrate`` makes it."""
    os.environ.update(env)
    from app.auth.bootstrap import ensure_admin

    ensure_admin()
    from dao import model_queries
    from dao.db import session_scope
    from dao.model_queries import Registration

    with session_scope() as session:
        model_queries.register(session, Registration("sgn", "1", "upload", contract=contract, onnx=onnx,
                                                     batch_size=1, min_worker=1, max_worker=1))
        model_queries.register(session, Registration("sgn-batched", "1", "upload", contract=contract, onnx=onnx,
                                                     batch_size=16, max_batch_delay_ms=2.0, min_worker=1, max_worker=1))


def kserve_binary_body(matrix: np.ndarray) -> tuple[bytes, dict]:
    """The same matrix as a KServe v2 infer request with the binary tensor extension (as
    tritonclient.http sends it): no JSON number parsing at all."""
    conn = matrix[None].astype("<f4")
    head = json.dumps({"inputs": [{"name": "conn", "shape": list(conn.shape), "datatype": "FP32",
                                   "parameters": {"binary_data_size": conn.nbytes}}]}).encode()
    return head + conn.tobytes(), {"Inference-Header-Content-Length": str(len(head)),
                                   "Content-Type": "application/octet-stream", **AUTH}


def start(cmd: list[str], env: dict, log: Path, ready_url: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(ready_url, timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{cmd} never answered {ready_url}")


def cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU of the server: its process, its live children, and the children it reaped (gunicorn
    recycles workers after max_requests; their time lands in the parent's children_* fields)."""
    try:
        root = psutil.Process(proc.pid)
        procs = root.children(recursive=True)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
    except psutil.NoSuchProcess:
        return 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def session_cpu_us(path: Path, matrix: np.ndarray, n: int = 2000) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    feed = {"conn": matrix[None].astype(np.float32)}
    for _ in range(50):
        session.run(None, feed)
    started = time.process_time()
    for _ in range(n):
        session.run(None, feed)
    return (time.process_time() - started) / n * 1e6


def parse_cpu_us(body: bytes, n: int = 200) -> dict:
    """CPU per parse of the request body: json.loads (what the baseline's Flask uses) and orjson
    (what the serving role uses); the best of three rounds, less sensitive to a shared machine."""
    import orjson

    def best(loads) -> float:
        rounds = []
        for _ in range(3):
            started = time.process_time()
            for _ in range(n):
                loads(body)
            rounds.append((time.process_time() - started) / n * 1e6)
        return min(rounds)

    return {"body_bytes": len(body), "json.loads": best(json.loads), "orjson.loads": best(orjson.loads)}


@dataclass(frozen=True)
class Target:
    """One server route under load: the same SGN file behind each."""

    name: str
    proc: subprocess.Popen
    url: str
    path: str
    body: bytes
    headers: dict = field(default_factory=lambda: dict(JSON))

    def shot(self, rate: float, seconds: float, args) -> Shot:  # noqa: ANN001
        return Shot(self.url, self.path, self.body, rate=rate, seconds=seconds, processes=args.processes,
                    threads=args.threads, headers=tuple(self.headers.items()))


def shoot(target: Target, rate: float, args, label: str = "") -> dict:  # noqa: ANN001
    before = cpu_seconds(target.proc)
    row = run(target.shot(rate, args.seconds, args))
    row["server_cpu_us_per_request"] = (cpu_seconds(target.proc) - before) / max(row["ok"], 1) * 1e6
    print(f"  {label:9s} {target.name:24s} {rate:6.0f}/s  ok {row['ok']:6d} failed {row['failed']:5d}  "
          f"p50 {row['p50_ms']:8.2f} ms  p99 {row['p99_ms']:8.2f} ms  cpu {row['server_cpu_us_per_request']:7.0f} µs/req",
          flush=True)
    return row


def measure_all(targets: list[Target], rates: list[float], args) -> list[dict]:  # noqa: ANN001
    """Every server at every rate, ``args.rounds`` times, interleaved: within a round each rate
    is run on every server back to back, in an order rotated by round, so that a busy spell of
    the shared machine falls on all servers alike instead of on whichever ran at that time.
    A rate is held when a majority of its rounds held it (p99 <= 10 ms, no failures)."""
    for t in targets:
        run(t.shot(min(rates), 1.0, args))  # warm
    rounds: dict[str, dict[float, list[dict]]] = {t.name: {rate: [] for rate in rates} for t in targets}
    for r in range(args.rounds):
        for rate in rates:
            for t in _rotated(targets, r):
                rounds[t.name][rate].append(shoot(t, rate, args, f"round {r + 1}"))
    grids = {t.name: [combine(rounds[t.name][rate]) for rate in rates] for t in targets}
    searches = {t.name: Bisection(grids[t.name]) for t in targets}
    for step in range(args.refine):
        mids = {t.name: searches[t.name].next_rate() for t in targets}
        live = [t for t in targets if mids[t.name] is not None]
        if not live:
            break
        step_rounds: dict[str, list[dict]] = {t.name: [] for t in live}
        for r in range(args.rounds):
            for t in _rotated(live, r):
                step_rounds[t.name].append(shoot(t, mids[t.name], args, f"refine {step + 1}.{r + 1}"))
        for t in live:
            searches[t.name].learn(combine(step_rounds[t.name]))
    return [{"name": t.name, "rows": grids[t.name], "refined": searches[t.name].refined,
             "highest_rate_p99_le_10ms": searches[t.name].low} for t in targets]


def _rotated(targets: list[Target], r: int) -> list[Target]:
    k = r % len(targets)
    return targets[k:] + targets[:k]


def combine(rows: list[dict]) -> dict:
    """One rate's rounds: median p50/p99/CPU, summed counts, and how many rounds held."""
    out = {"rate": rows[0]["rate"], "rounds": rows, "rounds_held": sum(_round_holds(r) for r in rows)}
    for key in ("ok", "failed", "scheduled", "dropped_behind"):
        out[key] = sum(r[key] for r in rows)
    for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "server_cpu_us_per_request"):
        out[key] = float(np.median([r[key] for r in rows]))
    return out


def _round_holds(row: dict) -> bool:
    return row["p99_ms"] <= P99_GOAL_MS and row["failed"] == 0


def _holds(row: dict) -> bool:
    return 2 * row["rounds_held"] > len(row["rounds"])


class Bisection:
    """The highest rate a server holds: the grid's, then halvings of the gap between it and the
    next grid rate up that was not held (from 0 when none was), so that two servers between the
    same grid rates still get a ratio. Every server's step k is measured in the same interleaved
    rounds as the others' (measure_all)."""

    def __init__(self, grid: list[dict]):
        held = [r["rate"] for r in grid if _holds(r)]
        self.low = max(held, default=0.0)
        above = [r["rate"] for r in grid if r["rate"] > self.low and not _holds(r)]
        self.high = min(above) if above else None
        self.refined: list[dict] = []

    def next_rate(self) -> float | None:
        """The rate to try next, or None when the search is done."""
        if self.high is None:
            return None
        mid = round((self.low + self.high) / 2)
        return None if mid in (self.low, self.high) else float(mid)

    def learn(self, row: dict) -> None:
        self.refined.append(row)
        if _holds(row):
            self.low = row["rate"]
        else:
            self.high = row["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="50,100,200,300,400,600,1000")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes, both servers")
    parser.add_argument("--server-threads", type=int, default=16, help="gunicorn threads, both servers")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--threads", type=int, default=16, help="load generator threads per process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per rate; a rate is held when most of its rounds hold it")
    parser.add_argument("--refine", type=int, default=3,
                        help="halvings of the gap above the highest grid rate held (0: the grid alone)")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="trainyard-bench-serving-"))
    onnx_path = tmp / "sgn.onnx"
    matrix, contract = build_onnx(onnx_path)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    base_env.update(TRAINYARD_VAR_DIR=str(tmp / "var"), TRAINYARD_NO_VENV="1", OMP_NUM_THREADS="1",
                    TRAINYARD_ADMIN_TOKEN=ADMIN_TOKEN,
                    PATH=f"{Path(sys.executable).parent}:{base_env.get('PATH', '')}",
                    TRAINYARD_GUNICORN_WORKERS=str(args.workers), TRAINYARD_GUNICORN_THREADS=str(args.server_threads))
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=base_env, check=True,
                   capture_output=True)
    register(base_env, onnx_path.read_bytes(), contract)
    body = json.dumps({"matrix": matrix.tolist()}).encode()
    ts = torchserve_note()
    stops = []
    try:
        targets = start_trainyard_and_baseline(tmp, onnx_path, base_env, matrix, body, args, stops)
        if ts is None:
            targets += start_torchserve(tmp, onnx_path, body, args, stops)
            ts = "ran: TorchServe from bench/.venv-torchserve, the same ONNX file in a custom onnxruntime handler"
        print(f"{len(targets)} server routes, {args.rounds} interleaved rounds of {args.seconds:g} s per rate",
              flush=True)
        results = measure_all(targets, rates, args)
    finally:
        for stop in reversed(stops):
            stop()
    own = session_cpu_us(onnx_path, matrix)
    summary = summarise(results, own, ts)
    summary["json_body_parse_cpu_us"] = parse_cpu_us(body)
    print(json.dumps(summary, indent=2))
    print_table(results)
    print_ratios(summary)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"serving-{stamp}.json").write_text(json.dumps({"args": vars(args), "results": results, **summary}, indent=2))


TS_VENV = ROOT / "bench" / ".venv-torchserve"


def torchserve_note() -> str | None:
    """None when TorchServe can run, else why not."""
    if not (TS_VENV / "bin" / "torchserve").exists():
        return (f"not run: {TS_VENV} does not exist (bench/README.md says how to make it: a separate venv with "
                "torchserve + torch-model-archiver, and Debian's openjdk-17-jre-headless)")
    if subprocess.run(["java", "-version"], capture_output=True).returncode != 0:
        return "not run: no java on PATH (Debian: apt-get install openjdk-17-jre-headless)"
    return None


def start_trainyard_and_baseline(tmp: Path, onnx_path: Path, base_env: dict, matrix: np.ndarray, body: bytes,
                                 args, stops: list) -> list[Target]:  # noqa: ANN001
    port = free_port()
    base = start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.baseline_serving:create_app()"],
                 {**base_env, "TRAINYARD_BIND": f"127.0.0.1:{port}", "BENCH_ONNX": str(onnx_path)},
                 tmp / "baseline.log", f"http://127.0.0.1:{port}/ping")
    stops.append(lambda: _stop(base))
    sport = free_port()
    serve = start(["./start.sh", "serve"],
                  {**base_env, "TRAINYARD_SERVE_BIND": f"127.0.0.1:{sport}",
                   "TRAINYARD_SERVE_WORKERS": str(args.workers), "TRAINYARD_SERVE_THREADS": str(args.server_threads)},
                  tmp / "serve.log", f"http://127.0.0.1:{sport}/v2/health/ready")
    stops.append(lambda: _stop(serve))
    url = f"http://127.0.0.1:{sport}"
    binary, headers = kserve_binary_body(matrix)
    return [Target("baseline", base, f"http://127.0.0.1:{port}", "/predict", body),
            Target("trainyard", serve, url, "/api/v0/models/sgn/predict", body),
            Target("trainyard+batching", serve, url, "/api/v0/models/sgn-batched/predict", body),
            Target("trainyard-kserve-binary", serve, url, "/v2/models/sgn/infer", binary, headers)]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_torchserve(tmp: Path, onnx_path: Path, body: bytes, args, stops: list) -> list[Target]:  # noqa: ANN001
    """Archive the handler + ONNX file, start TorchServe with the same number of workers, and
    register the model without batching ("sgn") and with it ("sgn-batched", batch_size 16,
    max_batch_delay 2 ms)."""
    store = tmp / "model-store"
    store.mkdir()
    bin_ = TS_VENV / "bin"
    subprocess.run([str(bin_ / "torch-model-archiver"), "--model-name", "sgn", "--version", "1.0",
                    "--serialized-file", str(onnx_path), "--handler", str(ROOT / "bench" / "torchserve_handler.py"),
                    "--export-path", str(store)], check=True, capture_output=True)
    inference, management, metrics = free_port(), free_port(), free_port()
    config = tmp / "ts.properties"
    config.write_text(f"inference_address=http://127.0.0.1:{inference}\n"
                      f"management_address=http://127.0.0.1:{management}\n"
                      f"metrics_address=http://127.0.0.1:{metrics}\n"
                      f"default_workers_per_model={args.workers}\n"
                      "disable_token_authorization=true\nenable_model_api=true\n"
                      "install_py_dep_per_model=false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(PATH=f"{bin_}:{env.get('PATH', '')}", OMP_NUM_THREADS="1", LOG_LOCATION=str(tmp / "ts-logs"),
               METRICS_LOCATION=str(tmp / "ts-logs"))
    proc = start([str(bin_ / "torchserve"), "--start", "--foreground", "--ncs", "--disable-token-auth",
                  "--model-store", str(store), "--ts-config", str(config)], env, tmp / "torchserve.log",
                 f"http://127.0.0.1:{inference}/ping")

    def stop() -> None:
        subprocess.run([str(bin_ / "torchserve"), "--stop"], env=env, capture_output=True, timeout=60)
        _stop(proc)

    stops.append(stop)
    m = f"http://127.0.0.1:{management}"
    for name, extra in (("sgn", ""), ("sgn-batched", "&batch_size=16&max_batch_delay=2")):
        r = requests.post(f"{m}/models?url=sgn.mar&model_name={name}&initial_workers={args.workers}"
                          f"&synchronous=true{extra}", timeout=120)
        assert r.status_code == 200, r.text
    url = f"http://127.0.0.1:{inference}"
    return [Target("torchserve", proc, url, "/predictions/sgn", body),
            Target("torchserve+batching", proc, url, "/predictions/sgn-batched", body)]


def _busiest(result: dict) -> dict:
    clean = [r for r in result["rows"] if r["failed"] == 0] or result["rows"]
    return max(clean, key=lambda r: r["rate"])


def summarise(results: list[dict], own_us: float, torchserve: str) -> dict:
    by = {r["name"]: r for r in results}
    base = by["baseline"]["highest_rate_p99_le_10ms"]
    return {
        "highest_rate_p99_le_10ms": {n: r["highest_rate_p99_le_10ms"] for n, r in by.items()},
        # None: the baseline held no rate with p99 <= 10 ms (a loaded machine); see per_rate
        "ratio_vs_baseline": {n: (r["highest_rate_p99_le_10ms"] / base if base else None)
                              for n, r in by.items() if n != "baseline"},
        "per_rate_vs_baseline": per_rate_ratios(by),
        "goals": {"trainyard >= 0.8x baseline": 0.8, "trainyard+batching >= 1.3x baseline": 1.3,
                  "trainyard+batching >= 2x torchserve's best": 2.0},
        "onnx_session_cpu_us_per_prediction": own_us,
        # idle processes' own CPU dominates at low rates: read it where the server was busiest
        "server_cpu_us_per_request_at_highest_answered_rate": {n: _busiest(r)["server_cpu_us_per_request"]
                                                                for n, r in by.items()},
        "torchserve": torchserve,
        "note": "the load generator, the servers and other sessions share the machine's cores: figures are noisy",
    }


def per_rate_ratios(by: dict) -> dict:
    """At each rate, every server's p50, p99 and server CPU per request over the baseline's
    (below 1: better than the baseline). Readable even when no server held p99 <= 10 ms."""
    base = {r["rate"]: r for r in by["baseline"]["rows"]}
    out = {}
    for name, result in by.items():
        if name == "baseline":
            continue
        out[name] = {str(int(r["rate"])): {k: _ratio(r[k], base[r["rate"]][k])
                                           for k in ("p50_ms", "p99_ms", "server_cpu_us_per_request")}
                     for r in result["rows"] if r["rate"] in base}
    return out


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def print_table(results: list[dict]) -> None:
    """Per server and rate (grid and refinements): median p50/p99 over the rounds, every round's
    p99, and how many rounds held p99 <= 10 ms with no failures."""
    print("\nmedian over rounds (p99 of each round; rounds held)")
    for result in results:
        for r in sorted(result["rows"] + result["refined"], key=lambda r: r["rate"]):
            per_round = ", ".join(f"{one['p99_ms']:.1f}" for one in r["rounds"])
            print(f"  {result['name']:24s} {r['rate']:6.0f}/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                  f"({per_round}; {r['rounds_held']}/{len(r['rounds'])} held)  failed {r['failed']}")
        print(f"  {result['name']:24s} highest rate held: {result['highest_rate_p99_le_10ms']:g}/s")


def print_ratios(summary: dict) -> None:
    print("\nvs the thin baseline (highest rate held: ratio; per rate: p50, p99, CPU/request ratios)")
    for name, ratio in summary["ratio_vs_baseline"].items():
        held = "n/a (baseline held no rate)" if ratio is None else f"{ratio:.2f}x"
        print(f"  {name:24s} highest rate {held}")
        for rate, r in summary["per_rate_vs_baseline"].get(name, {}).items():
            print(f"  {'':24s} {rate:>6s}/s  p50 {r['p50_ms']}x  p99 {r['p99_ms']}x  cpu {r['server_cpu_us_per_request']}x")


if __name__ == "__main__":
    main()
