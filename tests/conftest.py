"""Suite-wide rules.

With ``TRAINYARD_TESTS_STRICT=1`` (``./test.sh`` and ``.ci/run`` set it) nothing may skip
silently: a skipped test, or a module skipped at import, is reported as a failure naming what
is missing (nginx, .venv-mxnet, kubernetes-validate, ...). The one exception is a test marked
``gpu`` on a machine without a CUDA GPU; the summary says how many GPU tests ran.
"""

from __future__ import annotations

import os

import pytest

STRICT_ENV = "TRAINYARD_TESTS_STRICT"


def strict() -> bool:
    return os.environ.get(STRICT_ENV) == "1"


def _reason(longrepr) -> str:  # noqa: ANN001 - pytest's skip longrepr is a (path, line, reason) tuple
    return longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)


def _fail_instead(report, what: str) -> None:  # noqa: ANN001
    report.outcome = "failed"
    report.longrepr = (f"{what} was skipped, which {STRICT_ENV}=1 (test.sh, .ci/run) does not allow: "
                       f"{_reason(report.longrepr)}. Install what it needs; only GPU tests may skip.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # noqa: ANN001
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped and not hasattr(report, "wasxfail") \
            and item.get_closest_marker("gpu") is None:
        _fail_instead(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):  # noqa: ANN001
    outcome = yield
    report = outcome.get_result()
    if strict() and report.skipped:
        _fail_instead(report, f"module {collector.nodeid}")


_gpu_counts = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001 - runs in the controller under xdist too
    if "gpu" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _gpu_counts[report.outcome] += 1


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    if any(_gpu_counts.values()):
        c = _gpu_counts
        ran = c["passed"] + c["failed"]
        terminalreporter.write_line(
            f"GPU tests: {ran} ran ({c['passed']} passed, {c['failed']} failed), "
            f"{c['skipped']} skipped (no CUDA GPU on this machine)")
