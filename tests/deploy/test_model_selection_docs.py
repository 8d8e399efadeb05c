"""The model-selection page (docs/model-selection.md) and its worked example: the page shows the
committed figure and quotes the committed numbers, and the example script runs end to end (a
small smoke run: shape of its JSON, best-of-N never below the validation-chosen score, the chosen
configuration the one with the lowest validation loss)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGE = DOCS / "model-selection.md"
FIGURE = DOCS / "img" / "winners_curse.png"
FIGURES_JSON = DOCS / "img" / "winners_curse.json"
SCRIPT = DOCS / "examples" / "winners_curse.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_page_links_the_figure_and_the_figure_exists() -> None:
    text = PAGE.read_text()
    assert "](img/winners_curse.png)" in text
    assert FIGURE.is_file() and FIGURE.read_bytes()[:8] == PNG_MAGIC
    assert FIGURE.stat().st_size < 200_000, "keep the committed figure small"
    assert "model-selection.md" in (ROOT / "mkdocs.yml").read_text()


def test_the_page_quotes_the_committed_figures() -> None:
    """Rerunning the example changes the JSON; the page's numbers must follow it."""
    report = json.loads(FIGURES_JSON.read_text())
    text = PAGE.read_text()
    summary, settings = report["summary"], report["settings"]
    for key in ("selected", "best_of_n", "gap"):
        assert f"{summary[key]['mean']:.3f}" in text, key
        assert f"[{summary[key]['low']:.3f}, {summary[key]['high']:.3f}]" in text, key
    assert f"{settings['seeds']} seeds" in text and f"{settings['configs']} configurations" in text
    assert f"--seeds {settings['seeds']} --configs {settings['configs']} --epochs {settings['epochs']}" in text
    _check_report(report)


def _check_report(report: dict) -> None:
    settings = report["settings"]
    assert report["dataset"]["subjects"] == 140 and report["dataset"]["regions"] == 90
    assert len(report["seeds"]) == settings["seeds"]
    for s in report["seeds"]:
        assert len(s["runs"]) == settings["configs"]
        tests = [r["test_accuracy"] for r in s["runs"]]
        val = [r["best_val_loss"] for r in s["runs"]]
        assert s["best_of_n"] == max(tests) >= s["selected"], s["seed"]
        assert s["selected_index"] == int(np.argmin(val)), s["seed"]  # the first among equal losses
        assert s["selected"] == tests[s["selected_index"]]
        assert s["gap"] == pytest.approx(s["best_of_n"] - s["selected"])
        assert s["n_train"] + s["n_val"] + s["n_test"] == report["dataset"]["subjects"]
    curve = report["best_of_k"]
    assert [c["k"] for c in curve] == list(range(1, settings["configs"] + 1))
    assert curve[0]["gap"] == pytest.approx(0.0)  # one configuration: nothing to choose
    best = [c["best_of_k"] for c in curve]
    assert all(b <= a + 1e-12 for b, a in zip(best, best[1:])), "best of k cannot fall as k grows"
    assert curve[-1]["best_of_k"] == pytest.approx(np.mean([s["best_of_n"] for s in report["seeds"]]))
    assert curve[-1]["selected"] == pytest.approx(np.mean([s["selected"] for s in report["seeds"]]))


@pytest.mark.slow
def test_the_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, str(SCRIPT), "--seeds", "2", "--configs", "3", "--epochs", "1",
                          "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "winners_curse.json").read_text())
    assert report["settings"] | {"grid": None} == {
        "seeds": 2, "configs": 3, "epochs": 1, "model": "GNN", "grid": None, "batch_size": 10,
        "selection_metric": "best_val_loss", "test_metric": "test_accuracy"}
    assert len(report["settings"]["grid"]) == 3
    assert set(report["summary"]) >= {"selected", "best_of_n", "gap", "mean_of_n"}
    _check_report(report)
    assert (tmp_path / "winners_curse.png").read_bytes()[:8] == PNG_MAGIC
