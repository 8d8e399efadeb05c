"""The web dashboard: server-rendered page shells under /ui/ whose scripts read the same JSON
API as the CLI (app/api/). The shells hold no data, so they need no token; every fetch their
scripts make carries the signed-in token as ``Authorization: Bearer``."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template

from contracts.statuses import TASK_TYPE_MEANING, TaskStatus
from contracts.task_form import CV_TYPES, SPLIT_BY
from webcommon.openapi.common import HTML, NOT_MODIFIED, WEB
from webcommon.openapi.spec_types import Op, Raw, documented


class _Dashboard(Blueprint):
    """Flask registers the static route with the blueprint's bound ``send_static_file``; its
    operation is recorded on this override (a bound method reads its function's attributes)."""

    @documented(Op("The dashboard's scripts and styles", WEB, {200: Raw("application/octet-stream")}, (404,),
                   open=True, database=False))
    def send_static_file(self, filename: str) -> Response:
        return super().send_static_file(filename)


bp = _Dashboard("web", __name__, template_folder="templates", static_folder="static",
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
@documented(Op("The dashboard (redirects to its experiments page)", WEB, {302: NOT_MODIFIED}, open=True,
                database=False))
def index():
    return redirect("/ui/experiments")


@bp.get("/ui/signin")
@documented(Op("The dashboard's sign-in page", WEB, {200: HTML}, open=True, database=False))
def signin():
    return render_template("signin.html", page="signin", title="Sign in", pages=PAGES)


@bp.get("/ui/<any(experiments, new, compare, datasets, models, fleet):page>")
@documented(Op("A dashboard page (a shell; its data come from this API)", WEB, {200: HTML}, (404,), open=True,
                database=False))
def page(page: str):
    return render_template(f"{page}.html", page=page, title=PAGES[page], pages=PAGES)


@bp.get("/ui/tasks/<task_id>")
@documented(Op("The dashboard's page of a task", WEB, {200: HTML}, open=True, database=False))
def task(task_id: str):
    return render_template("task.html", page="task", title=f"Task {task_id}", pages=PAGES, task_id=task_id)
