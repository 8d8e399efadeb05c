"""PNG pictures of a task: its learning curves, its test confusion matrix, a detector's boxes on
test images (matplotlib, Agg)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def curves_png(epochs: list[dict], title: str = "") -> bytes:
    """Loss and accuracy per epoch (train and, when present, val) as PNG bytes; a detector's
    epochs (no accuracy) show its validation mAP instead.

    Each dict needs ``epoch`` and ``train_loss`` and may have ``train_accuracy``, ``val_loss``,
    ``val_accuracy``, ``val_map`` (None is skipped). Raises ValueError for an empty list.
    """
    if not epochs:
        raise ValueError("no epochs to plot")
    score = "accuracy" if any(e.get("train_accuracy") is not None for e in epochs) else "map"
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in ((ax_loss, "loss"), (ax_score, score)):
        for role in ("train", "val"):
            points = [(e["epoch"], e.get(f"{role}_{key}")) for e in epochs if e.get(f"{role}_{key}") is not None]
            if points:
                ax.plot(*zip(*points), label=role)
        ax.set_xlabel("epoch")
        ax.set_ylabel("VOC mAP" if key == "map" else key)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _png(fig)


def confusion_png(matrix: list[list[int]], class_names: list[str], title: str = "") -> bytes:
    """A confusion matrix (rows true, columns predicted) with counts, as PNG bytes.

    Raises ValueError when the matrix is not square of ``len(class_names)``.
    """
    n = len(class_names)
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise ValueError(f"need a {n}x{n} matrix for classes {class_names}")
    fig, ax = plt.subplots(figsize=(1.2 * n + 2, 1.2 * n + 1.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), class_names)
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = max(max(row) for row in matrix) or 1
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center",
                    color="white" if matrix[i][j] > top / 2 else "black")
    if title:
        ax.set_title(title)
    return _png(fig)


def detections_png(images: list, truths: list, found: list, class_names: list[str], min_score: float = 0.3,
                   title: str = "") -> bytes:
    """Test images with their true boxes (solid) and the detector's boxes scoring at least
    ``min_score`` (dashed, with class and score), in a row of panels.

    ``images``: H×W×C uint8 arrays; ``truths``: per image (k, 5) class, xmin, ymin, xmax, ymax in
    its pixels; ``found``: per image (boxes (d, 4), labels (d,), scores (d,)) in its pixels.
    """
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(images), figsize=(2.6 * len(images), 3.0), squeeze=False)
    for ax, image, truth, (boxes, labels, scores) in zip(axes[0], images, truths, found):
        ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        for c, x0, y0, x1, y1 in truth:
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, color=colours(int(c) % 10)))
        for (x0, y0, x1, y1), c, s in zip(boxes, labels, scores):
            if s < min_score:
                continue
            ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.2, ls="--",
                                       color=colours(int(c) % 10)))
            ax.text(x0, y0, f"{class_names[int(c)]} {s:.2f}", fontsize=6, va="bottom", color=colours(int(c) % 10))
        ax.set_axis_off()
    fig.text(0.01, 0.01, f"solid: true boxes; dashed: detected, score ≥ {min_score}", fontsize=7)
    if title:
        fig.suptitle(title)
    return _png(fig)
