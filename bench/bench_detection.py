"""Detection: trainyard's SSD engine against a plain GluonCV script, same data and epochs, one run.

    .venv-mxnet/bin/python bench/bench_detection.py                  # defaults: 300 demo images, 30 epochs
    .venv-mxnet/bin/python bench/bench_detection.py --epochs 5 --images 120 --rounds 1

Both train ``ssd_300_mobilenet0.25_custom`` from random weights on the demo detection set
(``models/mxnet_backend/detection_demo.py``) split 60/20/20 into train, validation and test,
with the same transforms, loss, optimiser, batch size, learning rate, seed and input size, and
score the last epoch's weights on the test images. The baseline is GluonCV's own recipe written
out as its ``train_ssd.py`` does it, on the same network (GluonCV's ``get_ssd`` with the
arguments trainyard builds it with) (validation mAP with ``VOC07MApMetric`` every epoch, the
best epoch's parameters kept); trainyard runs ``run_detection_job`` with hooks that keep the
checkpoints a worker would store. Each round runs both, in alternating order, each in a fresh
process. Output: each one's training time, test VOC mAP (trainyard's with its 95% bootstrap
interval over images, the baseline's from GluonCV's metric), and the time ratio (goal ≤ 1.1×).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORK = "ssd_300_mobilenet0.25_custom"


def _data(n_images: int):
    from models.mxnet_backend.detection_demo import make_demo_detection

    ds = make_demo_detection(n_images, seed=0)
    a, b = int(n_images * 0.6), int(n_images * 0.8)
    return ds.subset(range(a)), ds.subset(range(a, b)), ds.subset(range(b, n_images))


def run_trainyard(args) -> dict:
    from contracts.mxserver_request import MxTrainParams
    from models.mxnet_backend.detector import DetectionJobSpec, run_detection_job

    class Hooks:
        stored = 0

        def on_epoch(self, metrics):
            print(f"trainyard epoch {metrics.epoch} loss {metrics.train_loss:.3f} val_map {metrics.val_map}",
                  file=sys.stderr, flush=True)

        def on_checkpoint(self, kind, blob, epoch):
            Hooks.stored += len(blob)

        def should_stop(self):
            return False

    train, val, test = _data(args.images)
    params = MxTrainParams(num_epoch=args.epochs, batch_size=args.batch_size, base_lr=args.lr, seed=args.seed)
    started = time.perf_counter()
    out = run_detection_job(DetectionJobSpec("dl_ts", NETWORK, params, train, val, test,
                                             data_shape=(args.size, args.size)), Hooks())
    seconds = time.perf_counter() - started
    voc = out.result["test"]["map_voc"]
    return {"seconds": seconds, "map_voc": voc["map"], "low": voc["low"], "high": voc["high"],
            "map_coco": out.result["test"]["map_coco"]["map"], "checkpoint_bytes": Hooks.stored}


def run_gluoncv(args) -> dict:
    """GluonCV's train_ssd.py recipe, nothing of trainyard's but the data."""
    import random

    import mxnet as mx
    import numpy as np
    from gluoncv.data.batchify import Stack, Tuple
    from gluoncv.data.transforms.presets.ssd import SSDDefaultTrainTransform, SSDDefaultValTransform
    from gluoncv.loss import SSDMultiBoxLoss
    from gluoncv.utils.metrics.voc_detection import VOCMApMetric
    from mxnet import autograd, gluon

    from models.mxnet_backend.detector_networks import build_detector

    train, val, test = _data(args.images)

    class Boxes(gluon.data.Dataset):
        def __init__(self, ds):
            self.ds = ds

        def __len__(self):
            return self.ds.n_images

        def __getitem__(self, i):
            b = self.ds.pixel_boxes(i)
            label = np.concatenate([b[:, 1:5], b[:, :1], b[:, 5:6]], axis=1) if len(b) else \
                np.array([[0, 0, 1, 1, -1, 0]], np.float32)
            return mx.nd.array(self.ds.images[i], dtype=np.uint8), label

    def validate(net, ds):
        metric = VOCMApMetric(iou_thresh=0.5, class_names=list(ds.class_names))
        net.hybridize(static_alloc=True, static_shape=True)
        t = SSDDefaultValTransform(args.size, args.size)
        h, w, _ = ds.image_shape
        for start in range(0, ds.n_images, args.batch_size):
            idx = range(start, min(start + args.batch_size, ds.n_images))
            x = mx.nd.stack(*[t(*Boxes(ds)[i])[0] for i in idx])
            ids, scores, boxes = net(x)
            boxes = boxes * mx.nd.array([w / args.size, h / args.size] * 2)
            for k, i in enumerate(idx):
                g = ds.pixel_boxes(i)
                metric.update(boxes[k:k + 1], ids[k:k + 1], scores[k:k + 1], g[None, :, 1:5], g[None, :, :1],
                              g[None, :, 5:6])
        return metric.get()[1][-1]

    seed = (args.seed * 100_003) % (2 ** 31)
    np.random.seed(seed)
    random.seed(seed)
    mx.random.seed(seed)
    started = time.perf_counter()
    # The same network: GluonCV's get_ssd with trainyard's arguments (anchors laid out for the
    # size fed, models/mxnet_backend/detector_networks.py); everything else is GluonCV's recipe.
    net = build_detector(NETWORK, train.class_names, args.size)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": args.lr, "wd": 0.0001, "momentum": 0.9})
    loss_fn, best = SSDMultiBoxLoss(), -1.0
    scratch = tempfile.TemporaryDirectory(prefix="gluoncv-ssd-")
    for epoch in range(args.epochs):
        net.hybridize(static_alloc=True, static_shape=True)
        with autograd.train_mode():
            _, _, anchors = net(mx.nd.zeros((1, 3, args.size, args.size)))
        loader = gluon.data.DataLoader(Boxes(train).transform(SSDDefaultTrainTransform(args.size, args.size, anchors)),
                                       args.batch_size, shuffle=True, batchify_fn=Tuple(Stack(), Stack(), Stack()),
                                       last_batch="keep", num_workers=0)  # as trainyard: every image an epoch
        for x, cls_t, box_t in loader:
            x, cls_t, box_t = (a.as_in_context(mx.cpu()) for a in (x, cls_t, box_t))
            with autograd.record():
                cls_p, box_p, _ = net(x)
                sum_loss, _, _ = loss_fn(cls_p, box_p, cls_t, box_t)
                autograd.backward(sum_loss)
            trainer.step(1)
        current = validate(net, val)
        print(f"gluoncv epoch {epoch + 1} val_map {current}", file=sys.stderr, flush=True)
        if current > best:  # train_ssd.py's save_params: the best epoch's parameters to disk
            best = current
            net.save_parameters(str(Path(scratch.name, "best.params")))
        net.save_parameters(str(Path(scratch.name, "last.params")))
    seconds = time.perf_counter() - started
    scratch.cleanup()
    return {"seconds": seconds, "map_voc": float(validate(net, test))}


def _child(which: str, args) -> dict:
    argv = [sys.executable, __file__, "--child", which] + [f"--{k.replace('_', '-')}={v}" for k, v in
                                                            vars(args).items() if k not in ("child", "rounds")]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--size", type=int, default=128, help="the network's input, square")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", choices=["trainyard", "gluoncv"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps((run_trainyard if args.child == "trainyard" else run_gluoncv)(args)))
        return
    rows = []
    for r in range(args.rounds):
        order = ["gluoncv", "trainyard"] if r % 2 == 0 else ["trainyard", "gluoncv"]
        got = {which: _child(which, args) for which in order}
        rows.append(got)
        t, g = got["trainyard"], got["gluoncv"]
        print(f"round {r + 1}: trainyard {t['seconds']:.1f} s, VOC mAP {t['map_voc']:.3f} "
              f"[{t['low']:.3f}, {t['high']:.3f}], COCO mAP {t['map_coco']:.3f}; "
              f"GluonCV script {g['seconds']:.1f} s, VOC mAP {g['map_voc']:.3f}; "
              f"time ratio {t['seconds'] / g['seconds']:.2f}× (goal ≤ 1.1×)", flush=True)
    out = ROOT / "bench" / "out" / f"detection-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "rounds": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
