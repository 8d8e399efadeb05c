"""The winner's curse on the demo data: a sweep's best test score against the test score of the
configuration chosen on validation, over seeds (docs/model-selection.md).

For each seed the demo dataset (140 synthetic subjects, 90 regions) gets a new random 70/15/15
train/validation/test split (models.datasets.splits.assign_roles, as a form naming the dataset
three times), and N configurations of the faithful SGN (``GNN``; a grid of learning rate ×
weight decay) are trained in-process by the service's own engine (models.engine.run_job). Per
seed, two ways of quoting "the sweep's" test accuracy:

- best of N: the highest test accuracy among the N (the top row of a leaderboard sorted by
  ``-test_accuracy``): the largest of N noisy estimates, biased upwards;
- selected: the test accuracy of the configuration with the lowest ``best_val_loss``, chosen by
  the service's own rule (app.usecases.sweep_selection.choose, what GET /api/v0/sweeps/<id> does).

It writes ``winners_curse.json`` (per seed and per configuration, the summary, best-of-k for
k = 1..N) and ``winners_curse.png`` into ``--out``::

    OMP_NUM_THREADS=1 .venv/bin/python docs/examples/winners_curse.py --out docs/img
    OMP_NUM_THREADS=1 .venv/bin/python docs/examples/winners_curse.py --seeds 1 --configs 2 --epochs 1 --out /tmp/wc
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.usecases.sweep_selection import choose  # noqa: E402
from models.datasets.splits import assign_roles  # noqa: E402
from models.datasets.synthetic import DEMO_DATASET_NAME, demo_aal90  # noqa: E402
from models.engine import run_job  # noqa: E402
from models.job import HyperParams, JobSpec  # noqa: E402

LEARNING_RATES = (0.01, 0.02, 0.05, 0.1)
WEIGHT_DECAYS = (0.0, 1e-4, 1e-3)
SELECTION_METRIC = "best_val_loss"  # the sweep record's default
TEST_METRIC = "test_accuracy"  # the final weights' test accuracy: what a leaderboard ranks by
MAX_SUBSETS = 2000  # best-of-k: every k-subset of the N configurations, or this many drawn at random
# The standard baseline beside each result is the same for every configuration of a split and plays
# no part here: skipped where the engine computes one (JobSpec.with_baseline).
_NO_BASELINE = {"with_baseline": False} if "with_baseline" in {f.name for f in dataclasses.fields(JobSpec)} else {}


class _Quiet:
    """JobHooks that keep nothing and never stop."""

    def on_epoch(self, metrics) -> None:  # noqa: ANN001
        pass

    def on_checkpoint(self, kind, blob, epoch) -> None:  # noqa: ANN001
        pass

    def should_stop(self) -> bool:
        return False


def configurations(n: int) -> list[dict]:
    """The first ``n`` of the learning rate × weight decay grid (learning rate varying slowest)."""
    grid = [{"learning_rate": lr, "weight_decay": wd} for lr, wd in itertools.product(LEARNING_RATES, WEIGHT_DECAYS)]
    if not 1 <= n <= len(grid):
        raise ValueError(f"--configs must be 1..{len(grid)}")
    return grid[:n]


def split(ds, seed: int) -> dict:  # noqa: ANN001
    """The train/val/test datasets of a form naming the one dataset for all three roles."""
    parts, _ = assign_roles({"train": ["D"], "val": ["D"], "test": ["D"]}, {"D": ds}, seed=seed)
    return parts


def train_one(parts: dict, config: dict, seed: int, epochs: int, model: str) -> dict:
    """One configuration trained and tested: its validation and test figures."""
    params = HyperParams(batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=epochs, seed=seed, **config)
    spec = JobSpec("dl_ts", model, params, parts["train"], parts["val"], parts["test"], **_NO_BASELINE)
    r = run_job(spec, _Quiet(), "cpu").result
    return {"config": config, "best_val_loss": r["best_val_loss"], "best_val_accuracy": r["best_val_accuracy"],
            "test_accuracy": r["test_accuracy"], "test_accuracy_low": r["test_accuracy_low"],
            "test_accuracy_high": r["test_accuracy_high"], "test_best_accuracy": r["test_best_accuracy"],
            "test_n": r["test_n"]}


def select(runs: list[dict]) -> int:
    """The index of the configuration the sweep record would choose (lowest best_val_loss; the
    earliest among equal ones), by the service's own rule."""
    rows = [SimpleNamespace(id=i, status="SUCCEEDED", cv_type="", flat=r[SELECTION_METRIC], cv_mean=None)
            for i, r in enumerate(runs)]
    return choose(rows, SELECTION_METRIC)["chosen_task_id"]


def one_seed(ds, seed: int, configs: list[dict], epochs: int, model: str) -> dict:  # noqa: ANN001
    parts = split(ds, seed)
    runs = [train_one(parts, c, seed, epochs, model) for c in configs]
    tests = [r[TEST_METRIC] for r in runs]
    chosen = select(runs)
    best = int(np.argmax(tests))
    return {"seed": seed, "n_train": int(parts["train"].labels.size), "n_val": int(parts["val"].labels.size),
            "n_test": int(parts["test"].labels.size), "selected_index": chosen, "best_of_n_index": best,
            "selected": tests[chosen], "best_of_n": tests[best], "mean_of_n": float(np.mean(tests)),
            "gap": tests[best] - tests[chosen], "runs": runs}


def _subsets(n: int, k: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    if math.comb(n, k) <= MAX_SUBSETS:
        return list(itertools.combinations(range(n), k))
    return [tuple(sorted(rng.choice(n, size=k, replace=False))) for _ in range(MAX_SUBSETS)]


def best_of_k(seeds: list[dict]) -> list[dict]:
    """For k = 1..N, per seed the mean over k-subsets of the N configurations of the best test
    score and of the validation-chosen one's, then their mean over seeds."""
    n = len(seeds[0]["runs"])
    rng = np.random.default_rng(0)
    curve = []
    for k in range(1, n + 1):
        subsets = _subsets(n, k, rng)
        best, chosen = [], []
        for s in seeds:
            test = np.array([r[TEST_METRIC] for r in s["runs"]])
            val = np.array([r[SELECTION_METRIC] for r in s["runs"]])
            best.append(np.mean([test[list(sub)].max() for sub in subsets]))
            chosen.append(np.mean([test[sub[int(np.argmin(val[list(sub)]))]] for sub in subsets]))
        curve.append({"k": k, "best_of_k": float(np.mean(best)), "selected": float(np.mean(chosen)),
                      "gap": float(np.mean(best) - np.mean(chosen))})
    return curve


def mean_interval(values: list[float]) -> dict:
    """The mean with its 95% t interval (scipy); null bounds with fewer than 2 values or no spread."""
    from scipy import stats

    a = np.asarray(values, dtype=float)
    low = high = None
    if a.size >= 2 and np.ptp(a) > 0:
        ci = stats.ttest_1samp(a, 0.0).confidence_interval(0.95)
        low, high = float(ci.low), float(ci.high)
    return {"mean": float(a.mean()), "low": low, "high": high, "method": "t interval (scipy.stats.ttest_1samp)"}


def summarize(seeds: list[dict]) -> dict:
    return {"best_of_n": mean_interval([s["best_of_n"] for s in seeds]),
            "selected": mean_interval([s["selected"] for s in seeds]),
            "mean_of_n": mean_interval([s["mean_of_n"] for s in seeds]),
            "gap": mean_interval([s["gap"] for s in seeds]),
            "selected_minus_mean_of_n": mean_interval([s["selected"] - s["mean_of_n"] for s in seeds]),
            "seeds_with_gap": sum(s["gap"] > 0 for s in seeds)}


def _fmt(x: dict) -> str:
    bounds = "" if x["low"] is None else f" [{x['low']:.3f}, {x['high']:.3f}]"
    return f"{x['mean']:.3f}{bounds}"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds, summary, curve = report["seeds"], report["summary"], report["best_of_k"]
    n = report["settings"]["configs"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})
    jitter = np.random.default_rng(0).uniform(-0.08, 0.08, len(seeds))  # test accuracies are multiples of 1/n
    for j, s in zip(jitter, seeds):
        left.plot([j, 1 + j], [s["selected"], s["best_of_n"]], color="0.75", lw=0.8, zorder=1)
    left.scatter(jitter, [s["selected"] for s in seeds], color="tab:blue", s=16, zorder=2)
    left.scatter(1 + jitter, [s["best_of_n"] for s in seeds], color="tab:red", s=16, zorder=2)
    for x, key, color in ((0, "selected", "tab:blue"), (1, "best_of_n", "tab:red")):
        m = summary[key]
        if m["low"] is not None:
            left.errorbar(x + 0.22, m["mean"], yerr=[[m["mean"] - m["low"]], [m["high"] - m["mean"]]],
                          fmt="D", color=color, capsize=4, ms=6)
        else:
            left.plot(x + 0.22, m["mean"], "D", color=color, ms=6)
    left.set_xticks([0, 1], ["chosen on\nvalidation loss", f"best test score\nof {n}"])
    left.set_xlim(-0.4, 1.5)
    left.set_ylabel("test accuracy")
    left.set_title(f"per seed ({len(seeds)} splits, {seeds[0]['n_test']} test subjects each), mean and 95% CI",
                   fontsize=10)
    left.grid(axis="y", alpha=0.3)

    ks = [c["k"] for c in curve]
    right.plot(ks, [c["best_of_k"] for c in curve], "o-", color="tab:red", ms=4, label="best test score of k")
    right.plot(ks, [c["selected"] for c in curve], "o-", color="tab:blue", ms=4, label="chosen on validation loss")
    right.axhline(summary["mean_of_n"]["mean"], color="0.5", ls="--", lw=1, label="one configuration at random")
    right.set_xlabel("configurations tried (k)")
    right.set_ylabel("test accuracy, mean over seeds")
    right.set_title("the gap grows with the number of configurations", fontsize=10)
    right.legend(loc="center right", fontsize=9)
    right.grid(alpha=0.3)
    gap = summary["gap"]
    fig.suptitle(f"Winner's curse on the demo data: best-of-{n} overstates by {_fmt(gap)} (mean gap, 95% CI)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(seeds: int, n_configs: int, epochs: int, model: str) -> dict:
    ds = demo_aal90()
    configs = configurations(n_configs)
    start = time.perf_counter()
    per_seed = []
    for seed in range(seeds):
        per_seed.append(one_seed(ds, seed, configs, epochs, model))
        s = per_seed[-1]
        print(f"seed {seed}: selected {s['selected']:.3f}, best of {n_configs} {s['best_of_n']:.3f}, "
              f"gap {s['gap']:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return {"dataset": {"name": DEMO_DATASET_NAME, "subjects": int(ds.labels.size), "regions": int(ds.conn.shape[1])},
            "settings": {"seeds": seeds, "configs": n_configs, "epochs": epochs, "model": model,
                         "grid": configs, "batch_size": 10, "selection_metric": SELECTION_METRIC,
                         "test_metric": TEST_METRIC},
            "summary": summarize(per_seed), "best_of_k": best_of_k(per_seed), "seeds": per_seed,
            "seconds": round(time.perf_counter() - start, 1)}


def replot(report: dict) -> dict:
    """The summary and best-of-k recomputed from the stored per-seed runs (no training)."""
    return {**report, "summary": summarize(report["seeds"]), "best_of_k": best_of_k(report["seeds"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30, help="random splits (default 30)")
    parser.add_argument("--configs", type=int, default=12,
                        help=f"configurations per seed, 1..{len(LEARNING_RATES) * len(WEIGHT_DECAYS)} (default 12)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per configuration (default 20)")
    parser.add_argument("--model", default="GNN", help="a connectome network of the catalog (default GNN)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "img",
                        help="where winners_curse.json and winners_curse.png go (default docs/img)")
    parser.add_argument("--replot", action="store_true",
                        help="train nothing: redo the summary and the figure from --out's winners_curse.json")
    args = parser.parse_args(argv)
    figures = args.out / "winners_curse.json"
    if args.replot:
        report = replot(json.loads(figures.read_text()))
    else:
        report = run(args.seeds, args.configs, args.epochs, args.model)
    args.out.mkdir(parents=True, exist_ok=True)
    figures.write_text(json.dumps(report, indent=1) + "\n")
    plot(report, args.out / "winners_curse.png")
    s, n = report["summary"], report["settings"]["configs"]
    print(f"selected {_fmt(s['selected'])}, best of {n} {_fmt(s['best_of_n'])}, gap {_fmt(s['gap'])}; "
          f"written to {args.out} (training took {report['seconds']} s)")


if __name__ == "__main__":
    main()
