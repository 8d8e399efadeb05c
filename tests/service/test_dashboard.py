"""The web dashboard in a real browser against a real stack: sign in, submit the seed form
and watch it train, a rejected form's field errors, stop from the task page, compare, upload
datasets, a screenshot of every page, and no other project's data on a page."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from tests.service.dashboard_browser import Dashboard, chromium
from tests.service.forms import DEMO, form

pytestmark = pytest.mark.slow
PROJECT = "PROJ20191217104136"


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture()
def dash(browser, stack):
    d = Dashboard(browser, stack.url, getattr(stack, "token", "no-accounts-yet"))
    yield d
    errors = list(d.errors)
    d.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture(scope="module")
def pair(stack):
    """Two finished tasks that differ in learning rate."""
    ids = [stack.submit(form(epochs=3, learning_rate=lr, task_name=f"lr {lr}")) for lr in (0.05, 0.01)]
    for task_id in ids:
        assert stack.wait_task(task_id, timeout=600)["status"] == "SUCCEEDED"  # a loaded CI box is slow to start torch
    return ids


def test_sign_in_with_a_token_lands_on_the_experiments(browser, stack, pair):
    d = Dashboard(browser, stack.url, None)
    try:
        page = d.open("/")  # the redirect to the experiments page sends an unknown visitor to sign in
        if getattr(stack, "token", None):
            assert "/ui/signin" in page.url
            page.fill("#token", "not-a-token")
            page.click("button[type=submit]")
            assert "refused" in d.wait_text("#token-error", bool)
        else:
            page = d.open("/ui/signin")
        page.fill("#token", getattr(stack, "token", "no-accounts-yet"))
        page.keyboard.press("Enter")  # the form works from the keyboard
        page.wait_for_url("**/ui/experiments")
        d.wait_ready()
        rows = page.locator("#tasks tbody tr")
        assert rows.count() >= 2
        assert pair[0] in page.inner_text("#tasks")
        assert page.evaluate("sessionStorage.getItem('trainyard.token')")
        d.shot("signin-experiments")
    finally:
        d.close()


def _submit(page, stack) -> str:  # noqa: ANN001
    """Submit the page's form; the new task's id, from the task page it lands on."""
    page.click("#submit")
    page.wait_for_url("**/ui/tasks/TASK*")
    task_id = page.url.rsplit("/", 1)[1]
    stack.unfinished.add(task_id)
    return task_id


def test_seed_form_as_dl_ts_trains_with_live_progress_and_curves(dash, stack):
    page = dash.open("/ui/new")
    assert page.locator("#model option[value='SGN']").count() == 1
    assert page.locator(f"#train_data option[value='{DEMO}']").count() == 1
    page.select_option("#task_type", "dl_ts")
    page.fill("#task_name", "seed form as dl_ts")
    page.fill("#param_set-epochs", "30")
    dash.shot("new-task")
    task_id = _submit(page, stack)
    dash.wait_ready()
    seen_points, seen_progress = set(), set()
    deadline = time.monotonic() + 240
    while page.locator("#status").inner_text() != "SUCCEEDED":
        seen_points.add(page.locator("#loss-chart").get_attribute("data-points"))
        seen_progress.add(page.locator("#progress-text").inner_text())
        assert page.locator("#status").inner_text() not in ("FAILED", "STOPPED")
        assert time.monotonic() < deadline, stack.task(task_id)
        time.sleep(0.05)
    page.wait_for_function("document.querySelector('#loss-chart').dataset.points === '30'")
    assert "epoch 30 of 30" in page.inner_text("#progress-text")
    # it moved while we watched: several partial curves and progress texts, not just the end
    partial = {p for p in seen_points if p not in (None, "0", "30")}
    assert len(partial) >= 2, seen_points
    assert len([p for p in seen_progress if "of 30" in p and "epoch 30" not in p]) >= 2, seen_progress
    page.wait_for_selector("#confusion-table")
    task = stack.task(task_id)
    cm = task["result"]["test"]["confusion_matrix"]
    cells = page.locator("#confusion-table td.cm").all_inner_texts()
    assert [int(c) for c in cells] == [v for r in cm for v in r]
    assert page.locator("#predictions-table tbody tr").count() == task["result"]["test"]["n"]
    page.click("#predictions-table th >> text=P(SZ)")
    probs = [float(x) for x in page.locator("#predictions-table tbody tr td:nth-child(5)").all_inner_texts()]
    assert probs == sorted(probs)
    with page.expect_download() as dl:
        page.click("#csv")
    csv = dl.value.path().read_text()
    assert csv.splitlines()[0] == "subject,label,predicted,p_NC,p_SZ"
    assert len(csv.splitlines()) == task["result"]["test"]["n"] + 1
    assert "train" in page.inner_text("#split") and "test" in page.inner_text("#split")
    page.wait_for_function("document.querySelector('#logs').textContent.includes('SUCCEEDED')")
    assert task["worker"] in page.inner_text("#where")
    dash.shot("task-succeeded")


def test_the_form_asks_for_cross_validation_a_split_rule_and_no_baseline(dash, stack):
    page = dash.open("/ui/new")
    page.fill("#task_name", "cv from the form")
    page.fill("#param_set-epochs", "1")
    page.select_option("#cv_type", "kfold")
    page.fill("#n_folds", "2")
    page.select_option("#split_by", "subjects")
    page.check("#skip_baseline")
    task_id = _submit(page, stack)
    task = stack.wait_task(task_id, timeout=300)
    assert task["status"] == "SUCCEEDED", task["error"]
    assert task["result"]["cv"]["n_folds"] == 2 and task["result"]["splits"]["cv"]["cv_type"] == "kfold"
    assert task["result"]["standard_baseline"] == {"skipped": "skip_baseline was set on the form"}
    dash.wait_ready()
    page.wait_for_function("document.querySelector('#baseline').textContent.includes('skip_baseline')")


def test_a_rejected_form_shows_the_api_field_errors_beside_the_fields(dash, stack):
    page = dash.open("/ui/new")
    page.fill("#param_set-learning_rate", "fast")
    page.fill("#param_set-epochs", "0")
    page.click("#submit")
    page.wait_for_selector("#param_set-learning_rate[aria-invalid='true']")
    reply = stack.post("/api/v0/new_task", json=form(learning_rate="fast", epochs="0")).json()
    assert {e["field"] for e in reply["errors"]} == {"param_set.learning_rate", "param_set.epochs"}
    for e in reply["errors"]:
        box = e["field"].replace(".", "-")
        assert page.inner_text(f"#{box}-error") == e["problem"]
        assert page.get_attribute(f"#{box}", "aria-invalid") == "true"
    assert not page.inner_text("#task_name-error").strip()
    # a stage the database decides: a dataset nobody registered, named beside its list
    page.fill("#param_set-learning_rate", "0.05")
    page.fill("#param_set-epochs", "2")
    page.evaluate("""() => { const o = new Option('NO_SUCH_DATASET', 'NO_SUCH_DATASET', true, true);
                            document.querySelector('#train_data').replaceChildren(o); }""")
    page.click("#submit")
    dash.wait_text("#train_data-error", lambda t: "NO_SUCH_DATASET" in t, timeout=10)
    assert not page.inner_text("#param_set-learning_rate-error").strip()
    assert page.url.endswith("/ui/new")  # nothing submitted
    dash.shot("new-task-rejected")


def test_stop_a_running_task_from_its_page(dash, stack):
    task_id = stack.submit(form(epochs=400, task_name="to be stopped"))
    page = dash.open(f"/ui/tasks/{task_id}")
    dash.wait_text("#status", lambda s: s == "RUNNING", timeout=120)
    page.wait_for_selector("#stop:not([disabled])")
    queues = stack.get("/api/v0/queues").json()["queues"]
    assert [(q["queue"], q["running"], q["queued"], q["depth"]) for q in queues] == [(stack.queue, 1, 0, 1)]
    fleet = dash.open("/ui/fleet")
    fleet.wait_for_selector(f"#workers a[href='/ui/tasks/{task_id}']")
    assert stack.queue in fleet.inner_text("#queues")
    dash.shot("fleet-busy")
    page = dash.open(f"/ui/tasks/{task_id}")
    page.wait_for_selector("#stop:not([disabled])")
    page.click("#stop")
    dash.wait_text("#status", lambda s: s == "STOPPED", timeout=60)
    assert stack.task(task_id)["status"] == "STOPPED"
    assert page.is_disabled("#stop")
    dash.shot("task-stopped")


def _fmt(value: float, digits: int = 4) -> str:
    """As the pages' fmt(value, digits) writes a number."""
    return str(int(value)) if float(value).is_integer() else f"{value:.{digits}f}"


def test_compare_two_tasks(dash, stack, pair):
    page = dash.open("/ui/experiments")
    for task_id in pair:
        page.check(f"tr[data-task='{task_id}'] input[type=checkbox]")
    page.click("#compare")
    page.wait_for_url("**/ui/compare?ids=*")
    dash.wait_ready()
    lr = page.locator("tr[data-field='param_set.learning_rate']")
    assert lr.get_attribute("data-differs") == "1" and "diff" in lr.get_attribute("class")
    assert page.locator("tr[data-field='model']").get_attribute("data-differs") == "0"
    assert page.locator("#c-loss").get_attribute("data-points") == "3"
    assert page.locator("#c-parallel svg polyline").count() == 2
    assert page.locator("#compare-table thead th").count() == 3
    reply = stack.get("/api/v0/compare", params={"ids": ",".join(pair)}).json()
    acc = reply["tasks"][0]["metrics"]["test_accuracy"]
    shown = page.locator("tr[data-field='test_accuracy'] td").first.inner_text()
    assert shown == f"{_fmt(acc['value'])} [{_fmt(acc['low'])}, {_fmt(acc['high'])}]"  # its own interval beside it
    assert page.locator("tr[data-field='test_accuracy_low']").count() == 0
    [tested] = reply["pairs"]
    assert tested["pairable"], tested  # one seed: the same test subjects
    for t in tested["paired"]:
        row = page.locator(f"#paired-table tr[data-pair='{pair[0]},{pair[1]}'][data-metric='{t['metric']}']")
        text = row.inner_text()
        assert f"[{_fmt(t['low'])}, {_fmt(t['high'])}]" in text and f"{t['method']}, n = {t['n_common']}" in text
    assert "null" not in page.inner_text("#c-paired")  # one pair: no correction, and no note of one
    dash.shot("compare")
    page = dash.open("/ui/experiments?status=SUCCEEDED")  # a sweep: every task shown
    shown = page.locator("#tasks tbody tr").count()
    page.click("#compare-shown")
    page.wait_for_url("**/ui/compare?ids=*")
    dash.wait_ready()
    assert page.locator("#compare-table thead th").count() == shown + 1
    assert page.locator("#c-parallel svg polyline").count() == shown


def test_a_task_page_shows_the_standard_baseline_beside_its_result(dash, stack, pair):
    result = stack.task(pair[0])["result"]
    record = result["standard_baseline"]
    page = dash.open(f"/ui/tasks/{pair[0]}")
    page.wait_for_selector("#baseline table")
    rows = {r.locator("td").first.inner_text(): r.inner_text() for r in page.locator("#baseline tbody tr").all()}
    assert set(rows) == {t["metric"] for t in record["paired"]}
    for t in record["paired"]:
        assert f"{_fmt(t['difference'], 3)} ({_fmt(t['low'], 3)}–{_fmt(t['high'], 3)})" in rows[t["metric"]], rows
        assert f"{_fmt(result['baseline_' + t['metric']], 3)} (" in rows[t["metric"]]
    assert f"tangent-logreg, fitted on {record['fitted_on']}" in page.inner_text("#baseline caption")
    beaten = [t["metric"] for t in record["paired"] if t["high"] is not None and t["high"] < 0]
    assert (page.locator("#baseline-wins").count() == 1) == bool(beaten)


def test_a_sweep_ordered_by_a_test_metric_carries_a_note(dash, stack):
    sweep = "SWEEP-dashboard"
    task_id = stack.submit(form(epochs=1, sweep_id=sweep, task_name="in a sweep"))
    assert stack.wait_task(task_id, timeout=600)["status"] == "SUCCEEDED"
    page = dash.open(f"/ui/experiments?sweep_id={sweep}&sort=test_accuracy")
    assert page.locator("#tasks tbody tr").count() == 1
    note = page.locator("#selection-note")
    assert note.is_visible() and "biased" in note.inner_text()
    assert task_id in page.inner_text("#selection-chosen")  # the task chosen on validation, linked
    dash.shot("experiments-sweep-note")
    page.select_option("#f-sort", "best_val_loss")
    note.wait_for(state="hidden")
    page.select_option("#f-sort", "test_accuracy")
    note.wait_for(state="visible")
    page.fill("#f-sweep", "")
    page.press("#f-sweep", "Enter")  # no sweep filter: no note, whatever the order
    note.wait_for(state="hidden")
    assert "sweep_id" not in page.url and "sort=test_accuracy" in page.url


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_upload_datasets_a_good_one_listed_a_bad_one_with_its_problems(dash, stack, tmp_path):
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 8, 8))
    good = tmp_path / "dash_good.npz"
    good.write_bytes(_npz(conn=(m + m.transpose(0, 2, 1)) / 2, labels=np.array([0, 1] * 6)))
    bad = tmp_path / "dash_bad.npz"
    bad.write_bytes(_npz(conn=rng.normal(size=(5, 8, 7)), labels=np.array([0, 1, 0])))
    page = dash.open("/ui/datasets")
    page.set_input_files("#file", str(bad))
    page.click("#upload")
    page.wait_for_selector("#upload-problems li")
    problems = page.locator("#upload-problems li").all_inner_texts()
    api = stack.post("/api/v0/datasets", files={"file": ("dash_bad.npz", bad.read_bytes())}).json()
    assert problems == [f"{e['field']}: {e['problem']}" for e in api["errors"]] and problems
    dash.shot("datasets-rejected")
    page.set_input_files("#file", str(good))
    page.click("#upload")
    page.wait_for_selector("tr[data-name='dash_good']")
    assert page.evaluate("document.querySelector('#upload-progress').value") == 100
    assert "0: 6, 1: 6" in page.inner_text("tr[data-name='dash_good']") or \
        "6" in page.inner_text("tr[data-name='dash_good'] .balance")
    dash.shot("datasets")


def test_every_page_renders_and_is_screenshotted(dash, stack, pair):
    started, shots = time.time(), []
    for path, name, check in (
        ("/ui/experiments", "experiments", "#tasks tbody tr"),
        (f"/ui/tasks/{pair[0]}", "task", "#confusion-table"),
        (f"/ui/compare?ids={pair[0]},{pair[1]}", "compare-page", "#compare-table"),
        ("/ui/new", "new", "#task-form"),
        (f"/ui/new?from={pair[0]}&task_type=dl_ft", "new-finetune", "#task-form"),
        ("/ui/datasets", "datasets-page", f"tr[data-name='{DEMO}']"),
        ("/ui/models", "models", "#networks table"),
        ("/ui/fleet", "fleet", "#workers table"),
    ):
        page = dash.open(path)
        page.wait_for_selector(check)
        unlabelled = page.evaluate("""[...document.querySelectorAll('input, select, textarea, button')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
            .map(e => e.outerHTML.slice(0, 80))""")
        assert unlabelled == [], (path, unlabelled)  # every control is named for a screen reader
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 1366, (path, wide)  # fits a laptop screen: no sideways scrolling
        shots.append(dash.shot(name))
    page = dash.open(f"/ui/new?from={pair[0]}&task_type=dl_ft")
    assert page.input_value("#param_set-trained_task_id") == pair[0]
    assert page.input_value("#task_type") == "dl_ft"
    page = dash.open("/ui/fleet")
    assert "w0-" in page.inner_text("#workers")
    for shot in shots:  # written by this run (tests/artifacts keeps the previous run's)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_mtime >= started - 1, shot


def test_a_page_shows_only_the_selected_projects_tasks(browser, stack, pair):
    other = stack.submit(form(epochs=1, proj_id="PROJ_OTHER", task_name="someone else's"))
    stack.wait_task(other, timeout=120)
    d = Dashboard(browser, stack.url, getattr(stack, "token", "no-accounts-yet"))
    try:
        d.set_project(PROJECT)
        page = d.open("/ui/experiments")
        text = page.inner_text("#tasks")
        assert pair[0] in text and other not in text
        page.select_option("#f-sort", "test_accuracy")
        d.wait_ready()
        page.wait_for_function(f"!document.querySelector('#tasks').innerText.includes('{other}') && "
                               "document.querySelector('#metric-head').innerText.startsWith('test_accuracy')")
        assert "[" in page.locator(f"tr[data-task='{pair[0]}'] td:nth-child(8)").inner_text()  # its interval
    finally:
        d.close()


def test_fine_tune_from_a_task_page_and_see_the_lineage(dash, stack, pair):
    page = dash.open(f"/ui/tasks/{pair[0]}")
    page.click("#finetune")
    page.wait_for_url("**/ui/new?from=*")
    dash.wait_ready()
    assert page.input_value("#param_set-trained_task_id") == pair[0]
    assert page.input_value("#task_type") == "dl_ft"
    page.fill("#param_set-epochs", "2")
    child = _submit(page, stack)
    dash.wait_ready()
    dash.wait_text("#status", lambda s: s == "SUCCEEDED", timeout=120)
    assert pair[0] in page.inner_text("#lineage")
    assert [t["task_id"] for t in stack.get(f"/api/v0/tasks?parent={pair[0]}").json()["tasks"]] == [child]
    page = dash.open(f"/ui/tasks/{pair[0]}")
    page.wait_for_selector(f"#lineage a[href='/ui/tasks/{child}']")
    # the listing's dataset filter, as the experiments page uses it
    named = {t["task_id"] for t in stack.get(f"/api/v0/tasks?dataset={DEMO}&limit=500").json()["tasks"]}
    assert set(pair) | {child} <= named
    assert stack.get("/api/v0/tasks?dataset=NO_SUCH_DATASET").json()["tasks"] == []


def _token_for(stack, user: str, project: str, role: str = "editor") -> str:
    """A member of one project and a token of that user limited to it (made by the admin)."""
    r = stack.post(f"/api/v0/projects/{project}/members", json={"user": user, "role": role})
    assert r.status_code == 201, r.text
    r = stack.post("/api/v0/tokens", json={"user": user, "name": "dashboard test", "projects": [project]})
    assert r.status_code == 201, r.text
    return r.json()["secret"]


def test_a_page_never_shows_another_projects_data(browser, stack, pair):
    other = stack.submit(form(epochs=1, proj_id="PROJ_OTHER", task_name="someone else's"))
    stack.wait_task(other, timeout=120)
    secret = _token_for(stack, "dash-alice", PROJECT)
    d = Dashboard(browser, stack.url, secret)
    try:
        page = d.open("/ui/experiments")
        assert [o for o in page.locator("#project-switch option").all_inner_texts() if "PROJ_OTHER" in o] == []
        text = page.inner_text("#tasks")
        assert pair[0] in text and other not in text
        assert "dash-alice" in page.inner_text("#who-name")
        page = d.open(f"/ui/tasks/{other}", ready=False)
        page.wait_for_selector("#notice:not([hidden])")
        assert "someone else's" not in page.inner_text("body")
        assert page.inner_text("#params").strip() == ""
        page = d.open(f"/ui/compare?ids={pair[0]},{other}")
        assert other in page.inner_text("#notice")  # named as not found, nothing of it shown
        assert page.locator("#compare-table thead th").count() == 2
        page = d.open(f"/ui/new?from={other}&task_type=dl_ft", ready=False)
        page.wait_for_selector("#notice:not([hidden])")
        assert page.input_value("#param_set-trained_task_id") != other
    finally:
        d.close()
