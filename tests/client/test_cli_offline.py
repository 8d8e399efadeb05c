"""The command line without a server: every command's --help has an example, click's shell
completion, reading a --grid, the comparison's marks, the upload body."""

from __future__ import annotations

import os
import subprocess

import click
import pytest
from click.testing import CliRunner

from client.cli import main
from client.compare import comparison, mark, paired_rows
from client.sweep import BadGrid, combinations, form_for, parse_grid
from client.upload import multipart
from tests.client.conftest import TRAINYARD


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield prefix + (name,)
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    out = CliRunner().invoke(main, [*path, "--help"])
    assert out.exit_code == 0, out.output
    assert "Example" in out.output and "trainyard " in out.output.split("Example", 1)[1], out.output


def test_shell_completion_is_clicks_own():
    env = {**os.environ, "_TRAINYARD_COMPLETE": "bash_source"}
    script = subprocess.run([TRAINYARD], env=env, capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_trainyard_completion" in script.stdout
    env.update(_TRAINYARD_COMPLETE="bash_complete", COMP_WORDS="trainyard data", COMP_CWORD="1")
    words = subprocess.run([TRAINYARD], env=env, capture_output=True, text=True, timeout=60)
    assert "datasets" in words.stdout


def test_a_grid_reads_numbers_and_paths_and_tags_each_form():
    grid = parse_grid(["learning_rate=1e-3,0.01", "model=GNN,GAT", "requirements.device=cpu"])
    assert grid == {"param_set.learning_rate": [0.001, 0.01], "model": ["GNN", "GAT"],
                    "requirements.device": ["cpu"]}
    combos = combinations(grid)
    assert len(combos) == 4 and len({tuple(c.values()) for c in combos}) == 4
    sample = combinations(grid, sample=3, seed=1)
    assert len(sample) == 3 and sample == combinations(grid, sample=3, seed=1)
    form = form_for({"task_name": "t", "param_set": {"epochs": 1}}, combos[0], "SWEEP1")
    assert form["param_set"] == {"epochs": 1, "learning_rate": 0.001} and form["sweep_id"] == "SWEEP1"
    assert form["requirements"] == {"device": "cpu"} and form["task_name"].startswith("t [learning_rate=0.001")
    every_top_level = parse_grid(["split_by=groups,subjects", "skip_baseline=true", "inner_folds=2,3"])
    assert set(every_top_level) == {"split_by", "skip_baseline", "inner_folds"}  # the form's own fields
    for bad in (["learning_rate"], ["=1,2"], ["lr=1", "lr=2"]):
        with pytest.raises(BadGrid):
            parse_grid(bad)


def test_comparison_marks_what_differs_and_whether_intervals_are_disjoint():
    def task(lr, acc, low, high):
        return {"model": "GNN", "param_set": {"learning_rate": lr, "epochs": 1},
                "metrics": {"test_accuracy": acc, "test_accuracy_low": low, "test_accuracy_high": high,
                            "test_roc_auc": 0.7, "test_roc_auc_low": 0.5, "test_roc_auc_high": 0.9}}
    rows = {r.name: r for r in comparison([task(0.1, 0.9, 0.8, 0.95), task(0.01, 0.5, 0.3, 0.7)])}
    assert mark(rows["learning_rate"]) == "*" and mark(rows["epochs"]) == "" and mark(rows["model"]) == ""
    assert mark(rows["test_accuracy"]) == "!" and mark(rows["test_roc_auc"]) == ""
    close = {r.name: r for r in comparison([task(0.1, 0.6, 0.4, 0.8), task(0.1, 0.5, 0.3, 0.7)])}
    assert mark(close["test_accuracy"]) == "~"


def test_paired_rows_show_each_test_and_why_a_pair_has_none():
    test = {"metric": "test_accuracy", "n_common": 20, "difference": 0.15, "low": 0.05, "high": 0.3,
            "p_value": 0.0312, "p_value_holm": 0.0624, "method": "McNemar's exact test"}
    reply = {"pairs": [{"a": "A", "b": "B", "pairable": True, "paired": [test]},
                       {"a": "A", "b": "C", "pairable": False, "reason": "different_subjects",
                        "detail": "A and C were tested on different subjects", "paired": []}]}
    assert paired_rows(reply) == [
        ["A vs B", "test_accuracy", "0.150 [0.050, 0.300]", "0.0312", "0.0624", "McNemar's exact test, n=20"],
        ["A vs C", "-", "not pairable (different_subjects): A and C were tested on different subjects", "", "", ""]]


def test_the_upload_body_is_multipart_with_the_file(tmp_path):
    path = tmp_path / 'we"ird.npz'
    path.write_bytes(b"\x00\x01data")
    body, content_type = multipart(str(path), {"name": "x"})
    boundary = content_type.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode()) and body.endswith(f"--{boundary}--\r\n".encode())
    assert b'filename="we\\"ird.npz"' in body and b"\x00\x01data\r\n" in body


def test_a_cross_validated_sweeps_leaderboard_shows_and_orders_by_the_fold_means():
    from client.cli.sweep import by_fold_means, leaderboard_rows

    rows = [{"task_id": t, "status": "SUCCEEDED", "param_set": {}, "metrics": {"test_accuracy": 0.8}}
            for t in ("A", "B", "C")]
    scores = {"A": 0.7, "B": 0.4, "C": None}
    ordered = by_fold_means(rows, "best_val_loss", scores, descending=False)
    assert [r["task_id"] for r in ordered] == ["B", "A", "C"]
    cells = [row[-1] for row in leaderboard_rows(ordered, [], "best_val_loss", scores)]
    assert cells == ["0.400 (mean over folds)", "0.700 (mean over folds)", "-"]
    single = [{**rows[0], "metrics": {"best_val_loss": 0.5}}, rows[1]]
    assert by_fold_means(single, "best_val_loss", scores, descending=False) == single  # the listing's order kept
