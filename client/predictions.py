"""A task's per-subject test predictions as CSV (``trainyard download``)."""

from __future__ import annotations

import csv
import io

# result key → what the weights column says
WEIGHTS = (("test", "last"), ("test_best", "best"))


def as_csv(result: dict) -> str | None:
    """One row per subject and weights: ``weights`` (last: the final weights; best: the
    lowest-validation-loss checkpoint), ``subject``, ``label``, ``predicted``, ``p_<class>``.
    None when the result holds no predictions."""
    rows = [(label, p) for key, label in WEIGHTS for p in ((result.get(key) or {}).get("predictions") or [])]
    if not rows:
        return None
    classes = list(rows[0][1].get("probabilities", {}))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["weights", "subject", "label", "predicted", *(f"p_{c}" for c in classes)])
    for weights, p in rows:
        probs = p.get("probabilities", {})
        writer.writerow([weights, p.get("subject"), p.get("label"), p.get("predicted"),
                         *(probs.get(c) for c in classes)])
    return out.getvalue()
