"""How the seed recipe scores on the demo dataset, per seed, with its interval (accuracy, not
timing): the seed form as dl_ts (GNN, lr 0.05, batch 10, StepLR 60/0.2, 20 epochs, the 70/15/15
split of the one dataset named three times), and the tangent-logreg baseline on the same split.

    .venv/bin/python bench/demo_accuracy.py [--seeds 5] [--hub-effect 0.75 --hubs 12]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.datasets.splits import assign_roles  # noqa: E402
from models.datasets.synthetic import DEMO_HUB_EFFECT, DEMO_HUBS, synthetic_aal90  # noqa: E402
from models.engine import run_job  # noqa: E402
from models.job import HyperParams, JobSpec  # noqa: E402


class _Quiet:
    def on_epoch(self, metrics):  # noqa: ANN001
        pass

    def on_checkpoint(self, kind, blob, epoch):  # noqa: ANN001
        pass

    def should_stop(self) -> bool:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hub-effect", type=float, default=DEMO_HUB_EFFECT)
    parser.add_argument("--hubs", type=int, default=DEMO_HUBS)
    args = parser.parse_args()
    ds = synthetic_aal90(140, seed=0, hub_effect=args.hub_effect, n_hubs=args.hubs)
    for model in ("GNN", "tangent-logreg"):
        above = 0
        for seed in range(args.seeds):
            parts, _ = assign_roles({"train": ["D"], "val": ["D"], "test": ["D"]}, {"D": ds}, seed=seed)
            p = HyperParams(learning_rate=0.05, batch_size=10, lr_step_size=60, lr_decay=0.2, epochs=20, seed=seed)
            r = run_job(JobSpec("dl_ts", model, p, parts["train"], parts["val"], parts["test"]), _Quiet(), "cpu").result
            above += r["test_accuracy_low"] > r["test_chance_level"]
            print(f"{model:15s} seed {seed}: test accuracy {r['test_accuracy']:.3f} "
                  f"[{r['test_accuracy_low']:.3f}, {r['test_accuracy_high']:.3f}] (chance {r['test_chance_level']:.2f}, "
                  f"n {r['test_n']}), best-val checkpoint {r['test_best_accuracy']:.3f}, AUC {r['test_roc_auc']:.3f}")
        print(f"{model}: interval above chance on {above} of {args.seeds} seeds")


if __name__ == "__main__":
    main()
