"""The command line against a real stack (API, one worker, reaper): a follow and a log follow
that survive a restarted API, a sweep with its leaderboard and selection record, compare, download,
datasets, token."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess

import numpy as np
import pytest

from client.api import Client
from tests.client.conftest import TRAINYARD, trainyard
from tests.service.forms import form
from tests.service.stack import Stack

pytestmark = pytest.mark.slow
CONTROL = [chr(c) for c in range(32) if chr(c) not in "\n\t"] + ["\x7f"]


@pytest.fixture(scope="module")
def stack():
    s = Stack("pg-redis")
    # Leases of a normal length (a loaded machine's delays must not re-queue live tasks) and
    # short log streams, so a log follow also reconnects at the streams' time limit.
    s.env.update(TRAINYARD_LEASE_SECONDS="60", TRAINYARD_REQUEUE_AFTER_SECONDS="60",
                 TRAINYARD_LOG_FOLLOW_SECONDS="4")
    try:
        yield s.start(workers=1)
    finally:
        s.stop()


def _env(stack) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    return {**env, "TRAINYARD_URL": stack.url, "TRAINYARD_TOKEN": stack.token}


def _client(stack) -> Client:
    return Client(stack.url, stack.token)


def _no_control_characters(text: str) -> None:
    assert not [c for c in CONTROL if c in text], repr(text[:500])


def _restart_api(stack) -> None:
    stack.signal("api", signal.SIGKILL)  # no goodbye: every open connection is cut
    stack.spawn("api", "api")
    stack.wait_http(timeout=120)


def test_follow_and_log_follow_survive_a_restarted_api(stack, tmp_path):
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form(epochs=8, batch_size=1)))
    env = _env(stack)
    follower = subprocess.Popen([TRAINYARD, "submit", str(path), "--follow", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    task_id = json.loads(follower.stdout.readline())["task_id"]
    stack.unfinished.add(task_id)
    logger = subprocess.Popen([TRAINYARD, "logs", "-f", task_id, "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    running = stack.wait_task(task_id, statuses={"RUNNING"}, until=lambda t: t["progress"]["epoch"] >= 2,
                              timeout=300)
    assert running["progress"]["epoch"] < 8, "the task ended before the restart: make it longer"
    _restart_api(stack)
    out, err = follower.communicate(timeout=600)
    log_out, log_err = logger.communicate(timeout=300)
    assert follower.returncode == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["epoch"] for r in rows[:-1]] == list(range(1, 9)), "an epoch lost or repeated"
    assert rows[-1]["final"] is True and rows[-1]["status"] == "SUCCEEDED"
    assert logger.returncode == 0, log_err
    streamed = [json.loads(line) for line in log_out.splitlines()]
    assert [line["seq"] for line in streamed] == list(range(1, len(streamed) + 1)), "a log line lost or repeated"
    assert streamed == list(_client(stack).all_logs(task_id))
    assert any(line["message"].startswith("finished as SUCCEEDED") for line in streamed)
    after = trainyard("logs", task_id, "--cursor", "3", "--json", env=env)
    assert [json.loads(x)["seq"] for x in after.stdout.splitlines()] == list(range(4, len(streamed) + 1))


@pytest.fixture(scope="module")
def sweep_run(stack, tmp_path_factory):
    """A sweep of 6 one-epoch tasks (3 learning rates × 2 batch sizes) followed to its end."""
    path = tmp_path_factory.mktemp("sweep") / "form.yaml"
    path.write_text(json.dumps(form(epochs=1)))
    out = trainyard("sweep", str(path), "--grid", "learning_rate=0.01,0.05,0.1", "--grid", "batch_size=10,20",
                    "--json", env=_env(stack), timeout=900)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    stack.unfinished.update(rows[0].get("task_ids", []))
    return out, rows


def test_a_sweep_of_six_tasks_ends_with_its_leaderboard(stack, sweep_run):
    out, rows = sweep_run
    assert out.returncode == 0, out.stderr
    head, board = rows[0], rows[-1]
    assert len(set(head["task_ids"])) == 6 and head["sweep_id"].startswith("SWEEP")
    assert {r["task_id"] for r in rows[1:-1]} == set(head["task_ids"]), "every task was followed"
    assert {r["task_id"] for r in board["leaderboard"]} == set(head["task_ids"])
    assert {r["status"] for r in board["leaderboard"]} == {"SUCCEEDED"}
    losses = [r["metrics"]["best_val_loss"] for r in board["leaderboard"]]  # by default: the selection metric
    assert board["sort"] == "best_val_loss" and losses == sorted(losses) and board["selection_warning"] is None
    selection = board["selection"]
    best = [r for r in board["leaderboard"] if r["metrics"]["best_val_loss"] == losses[0]]
    chosen = min(best, key=lambda r: r["created_at"])  # a tie goes to the oldest
    assert (selection["chosen_task_id"], selection["metric"], selection["n_candidates"], selection["selected_on"]) \
        == (chosen["task_id"], "best_val_loss", 6, "validation")
    assert selection["chosen_test"]["test_accuracy"]["value"] == chosen["metrics"]["test_accuracy"]
    combos = {(r["param_set"]["learning_rate"], r["param_set"]["batch_size"]) for r in board["leaderboard"]}
    assert combos == {(lr, bs) for lr in (0.01, 0.05, 0.1) for bs in (10, 20)}
    task = _client(stack).task(head["task_ids"][0], full=True)
    assert task["sweep_id"] == head["sweep_id"]
    listed = trainyard("ls", "--sweep-id", head["sweep_id"], env=_env(stack))
    assert listed.returncode == 0 and sum(t in listed.stdout for t in head["task_ids"]) == 6
    _no_control_characters(listed.stdout)
    assert len(list(_client(stack).tasks(sweep_id="SWEEP-none"))) == 0


def test_a_sweep_ordered_by_a_test_metric_says_so_and_prints_its_selection(stack, tmp_path):
    path = _write(tmp_path / "form.json", form(epochs=1))
    out = trainyard("sweep", str(path), "--grid", "learning_rate=0.01,0.1", "--sort", "-test_accuracy",
                    env=_env(stack), timeout=600)
    assert out.returncode == 0, out.stderr
    _no_control_characters(out.stdout)
    sweep_id = out.stdout.split()[1].rstrip(":")
    selection = _client(stack).sweep_selection(sweep_id)["selection"]
    lines = out.stdout.splitlines()
    assert any(line.startswith("note: ordered by the test metric test_accuracy") and "biased" in line
               for line in lines), out.stdout
    assert (f"selection on validation best_val_loss (min): {selection['chosen_task_id']}, chosen from 2 "
            "finished tasks") in lines, out.stdout
    value = selection["chosen_test"]["test_accuracy"]
    assert any(line.split()[:2] == ["test_accuracy", f"{value['value']:.3f}"] for line in lines), out.stdout
    listed = trainyard("ls", "--sweep-id", sweep_id, "--sort", "-test_accuracy", env=_env(stack))
    assert "note: ordered by the test metric test_accuracy" in listed.stdout
    by_loss = trainyard("ls", "--sweep-id", sweep_id, "--sort", "best_val_loss", env=_env(stack))
    assert "note:" not in by_loss.stdout


def test_a_sweep_with_a_rejected_form_stops_what_it_queued(stack, tmp_path):
    path = tmp_path / "form.json"
    path.write_text(json.dumps(form(epochs=50)))
    out = trainyard("sweep", str(path), "--grid", "batch_size=10,0", "--json", env=_env(stack))
    assert out.returncode == 1 and "param_set.batch_size" in out.stderr, out.stderr
    sweep_id = json.loads(out.stdout.splitlines()[0])["sweep_id"] if out.stdout.strip() else None
    assert sweep_id is None, "nothing is announced before every form was accepted"
    queued = [t for t in _client(stack).tasks(limit=5) if t["task_name"].endswith("[batch_size=10]")]
    assert queued and _client(stack).wait(queued[0]["task_id"], timeout=120)["status"] == "STOPPED"
    bad = trainyard("submit", str(_write(tmp_path / "bad.json", form(epochs=1, sweep_id="no spaces"))),
                    env=_env(stack))
    assert bad.returncode == 1 and "sweep_id" in bad.stderr


def _write(path, value):
    path.write_text(json.dumps(value))
    return path


def test_compare_marks_the_swept_parameter(stack, sweep_run):
    ids = sweep_run[1][0]["task_ids"]
    a, b = ids[0], ids[2]  # the grid's order: the same batch size, two learning rates
    out = trainyard("compare", a, b, "--json", env=_env(stack))
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)["rows"]}
    assert rows["learning_rate"]["differs"] and not rows["epochs"]["differs"]
    acc = rows["test_accuracy"]
    assert all(low <= v <= high for v, (low, high) in zip(acc["values"], acc["intervals"]))
    plain = trainyard("compare", a, b, env=_env(stack))
    assert plain.returncode == 0, plain.stderr
    _no_control_characters(plain.stdout)
    line = next(x for x in plain.stdout.splitlines() if "param_set.learning_rate" in x)
    assert line.startswith("*")
    assert trainyard("compare", a, "TASK-missing", env=_env(stack)).returncode == 1


def test_compare_shows_the_paired_tests_of_tasks_on_the_same_subjects(stack, sweep_run):
    ids = sweep_run[1][0]["task_ids"]
    a, b = ids[0], ids[2]  # one seed for the whole grid: the same test subjects
    out = trainyard("compare", a, b, "--json", env=_env(stack))
    assert out.returncode == 0, out.stderr
    [pair] = json.loads(out.stdout)["pairs"]
    assert (pair["a"], pair["b"], pair["pairable"]) == (a, b, True)
    assert pair == _client(stack).paired_comparison([a, b])["pairs"][0]
    assert [t["metric"] for t in pair["paired"]] == ["test_accuracy", "test_balanced_accuracy", "test_roc_auc"]
    plain = trainyard("compare", a, b, env=_env(stack))
    assert plain.returncode == 0, plain.stderr
    _no_control_characters(plain.stdout)
    row = next(x for x in plain.stdout.splitlines() if x.startswith(f"{a} vs {b}") and "test_accuracy" in x)
    acc = pair["paired"][0]
    assert f"[{acc['low']:.3f}, {acc['high']:.3f}]" in row and f"McNemar's exact test, n={acc['n_common']}" in row
    baseline = _client(stack).task(a, full=True)["result"]["standard_baseline"]
    mine = next(t for t in baseline["paired"] if t["metric"] == "test_accuracy")
    beside = next(x for x in plain.stdout.splitlines() if x.startswith(a) and "tangent-logreg" in x
                  and "test_accuracy" in x)
    assert f"[{mine['low']:.3f}, {mine['high']:.3f}]" in beside and "McNemar's exact test" in beside
    assert json.loads(out.stdout)["baselines"][a] == baseline
    listed = trainyard("ls", "--sweep-id", sweep_run[1][0]["sweep_id"], env=_env(stack))
    assert "baseline [95%]" in listed.stdout.splitlines()[0]
    metrics = next(t for t in _client(stack).tasks(sweep_id=sweep_run[1][0]["sweep_id"]) if t["task_id"] == a)["metrics"]
    row = next(x for x in listed.stdout.splitlines() if x.startswith(a))
    assert f"{metrics['baseline_test_accuracy']:.3f} [{metrics['baseline_test_accuracy_low']:.3f}," in row, row
    many = trainyard("compare", *(f"TASK{i}" for i in range(21)), env=_env(stack))
    assert many.returncode == 1 and "ids" in many.stderr and "at most 20" in many.stderr, many.stderr


def test_download_writes_weights_plots_and_predictions(stack, sweep_run, tmp_path):
    task_id = sweep_run[1][0]["task_ids"][0]
    out = trainyard("download", task_id, "-o", str(tmp_path), "--json", env=_env(stack))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["model"]["path"].endswith(".safetensors")
    for plot in ("curves", "confusion"):
        assert open(got[plot]["path"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    table = list(csv.DictReader(io.StringIO(open(got["predictions"]["path"]).read())))
    n_test = _client(stack).task(task_id, full=True)["result"]["test"]["n"]
    assert len([r for r in table if r["weights"] == "last"]) == n_test
    assert {"subject", "label", "predicted", "p_NC", "p_SZ"} <= set(table[0])
    assert all(abs(float(r["p_NC"]) + float(r["p_SZ"]) - 1) < 1e-4 for r in table)
    missing = trainyard("download", "TASK-missing", "-o", str(tmp_path / "none"), env=_env(stack))
    assert missing.returncode == 1 and "404" in missing.stderr


def _npz(path, n=6, r=4, labels=None, conn=None) -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(size=(n, r, r))
    np.savez(path, conn=conn if conn is not None else (m + m.transpose(0, 2, 1)) / 2,
             labels=np.array(labels if labels is not None else ["NC", "SZ"] * (n // 2)))


def test_datasets_upload_ls_show_rm_and_a_bad_file_lists_each_problem(stack, tmp_path):
    bad = tmp_path / "bad.npz"
    _npz(bad, labels=["NC", "SZ", "NC"], conn=np.zeros((6, 4, 5)))
    out = trainyard("datasets", "upload", str(bad), env=_env(stack))
    assert out.returncode == 1 and out.stdout == ""
    problems = [line for line in out.stderr.splitlines() if line.startswith("  - file: ")]
    assert len(problems) >= 2, out.stderr  # not square, and the label count
    assert any("square" in p for p in problems) and any("labels" in p for p in problems)
    as_json = trainyard("datasets", "upload", str(bad), "--json", env=_env(stack))
    assert as_json.returncode == 1 and len(json.loads(as_json.stdout)["problems"]) == len(problems)

    good = tmp_path / "cli_small.npz"
    _npz(good)
    up = trainyard("datasets", "upload", str(good), "--json", env=_env(stack))
    assert up.returncode == 0, up.stderr
    assert json.loads(up.stdout)["n_subjects"] == 6
    listed = trainyard("datasets", "ls", env=_env(stack))
    assert "cli_small" in listed.stdout
    _no_control_characters(listed.stdout)
    assert json.loads(trainyard("datasets", "show", "cli_small", env=_env(stack)).stdout)["n_regions"] == 4
    assert trainyard("datasets", "rm", "cli_small", env=_env(stack)).returncode == 0
    gone = trainyard("datasets", "show", "cli_small", env=_env(stack))
    assert gone.returncode == 1 and "404" in gone.stderr


def test_upload_reports_progress_to_the_end(stack, tmp_path):
    path = tmp_path / "progress_set.npz"
    _npz(path, n=40, r=30)
    seen = []
    reply = _client(stack).upload_dataset(str(path), progress=lambda sent, total: seen.append((sent, total)))
    assert reply["dataset"]["n_subjects"] == 40
    assert seen and seen[-1][0] == seen[-1][1] and [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_gpus_and_token(stack):
    gpus = trainyard("gpus", "--json", env=_env(stack))
    assert gpus.returncode == 0, gpus.stderr
    assert any(json.loads(line)["backend"] == "torch" for line in gpus.stdout.splitlines())
    me = trainyard("token", env=_env(stack))
    assert me.returncode == 0, me.stderr
    assert me.stdout.startswith("user: ") and "admin" in me.stdout.splitlines()[0]
    who = json.loads(trainyard("token", "--json", env=_env(stack)).stdout)
    assert who["user"]["is_admin"] is True and "projects" in who
    anonymous = {k: v for k, v in _env(stack).items() if k != "TRAINYARD_TOKEN"}
    refused = trainyard("token", env=anonymous)
    assert refused.returncode == 1 and "401" in refused.stderr and "no token was sent" in refused.stderr
    listing = trainyard("ls", env=anonymous)
    assert listing.returncode == 1 and "401" in listing.stderr

def test_deploy_waits_until_ready_and_predict_reads_a_file(stack, sweep_run, tmp_path):
    from tests.serving.harness import Serving

    task_id = sweep_run[1][0]["task_ids"][0]
    out = trainyard("deploy", task_id, "--name", "cli-sgn", "--wait", "--json", env=_env(stack), timeout=600)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)
    assert model["status"] == "READY" and model["verification"], model
    serving = Serving(stack).start()
    serving.wait_model("cli-sgn")
    subjects = tmp_path / "subjects.npz"
    m = np.random.default_rng(1).normal(size=(3, 90, 90))
    np.savez(subjects, conn=(m + m.transpose(0, 2, 1)) / 2, labels=np.array(["NC", "SZ", "NC"]),
             subjects=np.array(["s1", "s2", "s3"]))
    env = {**_env(stack), "TRAINYARD_URL": serving.url}
    reply = trainyard("predict", "cli-sgn", str(subjects), "--json", env=env)
    assert reply.returncode == 0, reply.stderr
    predictions = json.loads(reply.stdout)["predictions"]
    assert [p["subject"] for p in predictions] == ["s1", "s2", "s3"]
    plain = trainyard("predict", "cli-sgn", str(subjects), env=env)
    assert plain.returncode == 0 and "s3" in plain.stdout
    _no_control_characters(plain.stdout)
    unknown = trainyard("predict", "no-such-model", str(subjects), env=env)
    assert unknown.returncode == 1 and "404" in unknown.stderr
