"""The web dashboard: server-rendered page shells under /ui/ whose scripts read the same JSON
API as the CLI (app/api/). The shells hold no data, so they need no token; every fetch their
scripts make carries the signed-in token as ``Authorization: Bearer``."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template

from contracts.statuses import TASK_TYPE_MEANING, TaskStatus
from contracts.task_form import CV_TYPES, SPLIT_BY

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/ui/static")

# page name → (template, title); the navigation lists them in this order
PAGES = {
    "experiments": "Experiments",
    "new": "New task",
    "compare": "Compare",
    "datasets": "Datasets",
    "models": "Models",
    "fleet": "Fleet",
}


@bp.context_processor
def _vocabulary() -> dict:
    """The names the pages show and their scripts compare with, from their one definition."""
    return {"statuses": [s.value for s in TaskStatus], "terminal": [s.value for s in TaskStatus.terminal()],
            "task_types": TASK_TYPE_MEANING, "cv_types": CV_TYPES, "split_by": SPLIT_BY}


@bp.get("/")
@bp.get("/ui/")
def index():
    return redirect("/ui/experiments")


@bp.get("/ui/signin")
def signin():
    return render_template("signin.html", page="signin", title="Sign in", pages=PAGES)


@bp.get("/ui/<any(experiments, new, compare, datasets, models, fleet):page>")
def page(page: str):
    return render_template(f"{page}.html", page=page, title=PAGES[page], pages=PAGES)


@bp.get("/ui/tasks/<task_id>")
def task(task_id: str):
    return render_template("task.html", page="task", title=f"Task {task_id}", pages=PAGES, task_id=task_id)
