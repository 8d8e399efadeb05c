"""The original SGN recipe as a plain PyTorch Geometric script versus trainyard's engine.

Both train SGN (GCNConv(F,16) → ReLU → GCNConv(16,64) → mean pool → log-softmax) on the same seeded
synthetic 280-subject AAL90 data (200 train / 80 test, stratified), with lr 0.05, batch 10,
StepLR(60, 0.2), Adam, and evaluate the test subjects after every epoch. Both start from the same
initial weights and see the batches in the same order, so their accuracies should agree.

The plain script is what the seed did: one ``Data`` per subject with sparse edges (here both
directions of every pair, like the engine, so the two compute the same function), a PyG
``DataLoader`` and message passing. The engine uses the dense batched formulation.

Each side runs in its own spawned process so that peak memory (ru_maxrss) is its own.

    .venv/bin/python bench/bench_engine.py --epochs 30 --seed 0
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import numpy as np


def _split(labels: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.extend(members[: round(n_test * members.size / labels.size)])
    test = np.sort(np.array(test))
    return np.setdiff1d(np.arange(labels.size), test), test


def _data(args):
    from models.datasets.synthetic import synthetic_aal90

    ds = synthetic_aal90(args.subjects, seed=args.seed, hub_effect=args.hub_effect)
    train_idx, test_idx = _split(ds.labels, args.test, args.seed)
    return ds.subset(train_idx), ds.subset(test_idx)


# ------------------------------------------------------------------ the plain PyG script


class _SeededOrder:
    """A sampler yielding ``torch.randperm(n, generator)`` each epoch, as the engine orders batches."""

    def __init__(self, n: int, generator):
        self.n, self.generator = n, generator

    def __iter__(self):
        import torch

        return iter(torch.randperm(self.n, generator=self.generator).tolist())

    def __len__(self) -> int:
        return self.n


def _plain(args, queue) -> None:
    import torch
    import torch.nn.functional as F
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import GCNConv, global_mean_pool

    torch.set_num_threads(args.threads)
    train_ds, test_ds = _data(args)

    def to_data(matrix, label):
        r = matrix.shape[0]
        off = ~np.eye(r, dtype=bool)
        z = (matrix - matrix[off].mean()) / matrix[off].std()
        src, dst = np.nonzero(off)
        return Data(x=torch.tensor(np.where(off, z, 0.0), dtype=torch.float),
                    edge_index=torch.tensor(np.stack([src, dst]), dtype=torch.long),
                    edge_attr=torch.tensor(z[src, dst][:, None], dtype=torch.float),
                    y=torch.tensor([label]))

    class Net(torch.nn.Module):
        def __init__(self, in_channels):
            super().__init__()
            self.conv1 = GCNConv(in_channels, 16)
            self.conv2 = GCNConv(16, 64)

        def forward(self, data):
            x = F.relu(self.conv1(data.x, data.edge_index))
            x = self.conv2(x, data.edge_index)
            return F.log_softmax(global_mean_pool(x, data.batch), dim=1)

    train_set = [to_data(m, int(y)) for m, y in zip(train_ds.conn, train_ds.labels)]
    test_set = [to_data(m, int(y)) for m, y in zip(test_ds.conn, test_ds.labels)]
    # The engine's batch order: one seeded permutation per epoch. (A shuffling DataLoader given
    # the same generator draws a base seed from it first, and so another order.)
    train_loader = DataLoader(train_set, batch_size=10,
                              sampler=_SeededOrder(len(train_set), torch.Generator().manual_seed(args.seed)))
    test_loader = DataLoader(test_set, batch_size=10)
    torch.manual_seed(args.seed)
    model = Net(train_set[0].num_node_features)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=60, gamma=0.2)

    def train():
        model.train()
        for data in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), data.y)
            loss.backward()
            optimizer.step()

    @torch.no_grad()
    def test(loader):
        model.eval()
        correct = sum(int((model(d)[:, :2].argmax(dim=1) == d.y).sum()) for d in loader)
        return correct / len(loader.dataset)

    seconds = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        train()
        accuracy = test(test_loader)
        scheduler.step()
        seconds.append(time.perf_counter() - started)
    queue.put({"epoch_s": float(np.mean(seconds)), "wall_epoch_s": float(np.mean(seconds)),
               "test_accuracy": accuracy, "peak_rss_mb": _peak_mb()})


# ------------------------------------------------------------------ the engine


class _Hooks:
    def __init__(self):
        self.seconds = []

    def on_epoch(self, metrics):
        self.seconds.append(metrics.seconds)

    def on_checkpoint(self, kind, blob, epoch):
        pass

    def should_stop(self):
        return False


def _engine(args, queue) -> None:
    import torch

    from models.engine import run_job
    from models.job import HyperParams, JobSpec

    torch.set_num_threads(args.threads)
    train_ds, test_ds = _data(args)
    params = HyperParams(learning_rate=0.05, batch_size=10, lr_step_size=60, lr_decay=0.2,
                         epochs=args.epochs, seed=args.seed)
    hooks = _Hooks()
    started = time.perf_counter()
    outcome = run_job(JobSpec("dl_ts", "SGN", params, train_ds, test_ds, test_ds), hooks, device="cpu")
    wall = time.perf_counter() - started
    queue.put({"epoch_s": float(np.mean(hooks.seconds)), "wall_epoch_s": wall / args.epochs,
               "test_accuracy": outcome.result["test_accuracy"], "peak_rss_mb": _peak_mb()})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(target, args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--subjects", type=int, default=280)
    parser.add_argument("--test", type=int, default=80, help="test subjects")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    # At the generator's default (0.25) the faithful SGN, which only sees region-mean
    # connectivity, stays near chance and the two accuracies differ by noise alone; at 1.0 the
    # hubs' loss of connectivity gives it something to learn, so the accuracies mean something.
    parser.add_argument("--hub-effect", type=float, default=1.0)
    args = parser.parse_args()
    plain, engine = _run(_plain, args), _run(_engine, args)
    print(f"SGN, {args.subjects} subjects, {args.epochs} epochs, {args.threads} thread(s), lr 0.05, batch 10")
    print(f"{'':22}{'plain PyG':>12}{'engine':>12}{'ratio':>9}")
    for key, label in (("epoch_s", "s/epoch (train+eval)"), ("wall_epoch_s", "s/epoch (all in)"),
                       ("test_accuracy", "test accuracy"), ("peak_rss_mb", "peak RSS (MB)")):
        ratio = engine[key] / plain[key] if plain[key] else float("nan")
        print(f"{label:22}{plain[key]:12.4f}{engine[key]:12.4f}{ratio:9.3f}")


if __name__ == "__main__":
    main()
