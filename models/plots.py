"""PNG pictures of a task: its learning curves and its test confusion matrix (matplotlib, Agg)."""

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
    """Loss and accuracy per epoch (train and, when present, val) as PNG bytes.

    Each dict needs ``epoch``, ``train_loss``, ``train_accuracy`` and may have ``val_loss``,
    ``val_accuracy`` (None is skipped). Raises ValueError for an empty list.
    """
    if not epochs:
        raise ValueError("no epochs to plot")
    x = [e["epoch"] for e in epochs]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.plot(x, [e[f"train_{key}"] for e in epochs], label="train")
        val = [(e["epoch"], e.get(f"val_{key}")) for e in epochs if e.get(f"val_{key}") is not None]
        if val:
            ax.plot(*zip(*val), label="val")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
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
