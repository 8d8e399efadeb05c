"""The monitoring that ships with the deployment: Prometheus' config and rules pass promtool
(lint and the alerts' unit tests), compose scrapes every role where it serves, the dashboard
asks only for series something exports, k8s pods carry the scrape annotations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_configs import compose, objects_by

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "docker" / "prometheus"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "trainyard.json"
METRIC = re.compile(r"\b(trainyard(?::[a-z0-9_]+:[a-z0-9_]+|_[a-z0-9_]+))")


def promtool(*args: str, cwd: Path = PROM) -> str:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus; test.sh does)")
    out = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_rules_lint_and_their_alerts_fire_when_they_should():
    assert "SUCCESS" in promtool("check", "rules", "rules.yml")
    assert "SUCCESS" in promtool("test", "rules", "rules_test.yml")


def test_compose_prometheus_config_lints(tmp_path):
    # The config names the rules at their path inside the container; lint it beside them.
    config = (PROM / "prometheus.yml").read_text().replace("/etc/prometheus/trainyard-rules.yml", "rules.yml")
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(PROM / "rules.yml", tmp_path / "rules.yml")
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def test_compose_scrapes_every_role_on_its_metrics_port():
    services = compose()["services"]
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    api_port = services["api"]["environment"]["TRAINYARD_BIND"].rsplit(":", 1)[1]
    expected = {f"api:{api_port}"}
    for name in ("beat", "worker-gpu", "worker-mxnet"):
        port = services[name]["environment"]["TRAINYARD_METRICS_PORT"]
        assert port in services[name]["expose"], name
        expected.add(f"{name}:{port}")
    assert targets == expected
    mounts = services["prometheus"]["volumes"]
    assert "./docker/prometheus/rules.yml:/etc/prometheus/trainyard-rules.yml:ro" in mounts
    assert config["rule_files"] == ["/etc/prometheus/trainyard-rules.yml"]
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def _exported_names() -> set[str]:
    """Metric names our code defines (prometheus_client adds _total/_bucket/... at export)."""
    names = set()
    for path in [*ROOT.glob("app/**/*.py"), *ROOT.glob("tasks/**/*.py")]:
        names |= set(re.findall(r'"(trainyard_[a-z0-9_]+)"', path.read_text()))
    return names


def _recorded_names() -> set[str]:
    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def _base(name: str) -> str:
    return re.sub(r"_(total|bucket|count|sum|created)$", "", name)


SERVING = "trainyard_serving_"  # the serving role exports these on its own /metrics


def test_dashboard_and_rules_ask_only_for_series_that_exist():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    exprs += [r["expr"] for g in groups for r in g["rules"]]
    exported, recorded = _exported_names(), _recorded_names()
    for expr in exprs:
        for name in METRIC.findall(expr):
            known = name in recorded or _base(name) in exported or name.startswith(SERVING)
            assert known, f"{name} (in {expr!r}) is neither exported nor recorded"
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for needed in ("queue depth", "oldest", "throughput", "failure", "gpu memory", "api p99", "serving p99"):
        assert needed in titles, needed
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])


def test_k8s_pods_carry_scrape_annotations_on_the_port_they_serve():
    config = objects_by("ConfigMap")["trainyard-config"]["data"]
    metrics_port, api_port = config["TRAINYARD_METRICS_PORT"], config["TRAINYARD_BIND"].rsplit(":", 1)[1]
    for name, deployment in objects_by("Deployment").items():
        if not name.startswith("trainyard-"):
            continue
        template = deployment["spec"]["template"]
        notes = template["metadata"].get("annotations", {})
        assert notes.get("prometheus.io/scrape") == "true", name
        # the API and the serving role serve /metrics on their own HTTP port, workers on 9100
        http_ports = {"trainyard-api": api_port, "trainyard-serving": "8001"}
        expected = http_ports.get(name, metrics_port)
        assert notes["prometheus.io/port"] == expected, name
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert int(expected) in ports, name
