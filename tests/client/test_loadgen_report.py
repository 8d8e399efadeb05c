"""The HTML report renders in a real browser (Debian's chromium) with its plots; MLPerf mode."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.client.conftest import json_lines, trainyard

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_html_report_renders_its_plots_in_chromium(ref_server, tmp_path):
    from playwright import sync_api as playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is not installed (test.sh installs Debian's chromium)")
    srv = ref_server("--delay-ms", "10", "--jitter-ms", "2", "--stall-at", "1.2", "--stall-seconds", "0.6")
    report = tmp_path / "report.html"
    out = trainyard("loadgen", srv.url, "--rate", "40", "--duration", "3", "--json", "--html", str(report))
    assert out.returncode == 0, out.stderr
    windows, summary = json_lines(out.stdout)
    assert summary["slow_windows"], summary  # the stall is marked
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requests = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            for chart in ("latency", "rates", "errors"):
                svg = page.locator(f"svg#{chart}")
                box = svg.bounding_box()
                assert box and box["width"] > 400 and box["height"] > 150
                lines = svg.locator("polyline.series")
                assert lines.count() >= 2
                assert all(len(lines.nth(i).get_attribute("points").split()) >= 2 for i in range(lines.count()))
            assert page.locator("svg#latency rect.flag").count() == len(
                set(summary["slow_windows"]) | set(summary["generator_bound_windows"]))
            assert "Flagged windows" in page.inner_text("body")
            assert requests == [report.as_uri()]  # self-contained: nothing else fetched
        finally:
            browser.close()


def test_mlperf_server_scenario_completes_and_its_verdict_is_parsed(ref_server, tmp_path):
    srv = ref_server("--delay-ms", "5", "--jitter-ms", "1")
    logs = tmp_path / "mlperf"
    out = trainyard("loadgen", srv.url, "--mlperf", "--rate", "50", "--duration", "1", "--mlperf-min-queries", "40",
                    "--mlperf-latency-ms", "2000", "--mlperf-log-dir", str(logs), "--json")
    result = json_lines_mlperf(out.stdout)
    assert result["verdict"] in ("VALID", "INVALID")
    assert out.returncode == (0 if result["verdict"] == "VALID" else 3), out.stderr
    assert result["scenario"] == "Server"
    assert result["min_queries_satisfied"] is True
    assert result["p99_latency_ms"] > 0 and result["ours_p99_ms"] > 0
    assert result["ours_ok"] == srv.stats()["count"]
    if result["verdict"] == "INVALID":
        assert result["reasons"]  # and it says why
    assert (logs / "mlperf_log_summary.txt").exists() and (logs / "mlperf_log_detail.txt").exists()


def json_lines_mlperf(stdout: str) -> dict:
    (line,) = [l for l in stdout.splitlines() if l.strip()]
    result = json.loads(line)
    assert result["mlperf"] is True
    return result
