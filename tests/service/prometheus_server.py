"""Debian's real Prometheus server (``apt-get install prometheus``) for tests: scrapes given
targets every second with trainyard's rules loaded, answers PromQL over its HTTP API."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import yaml

from tests.service.stack import ADMIN_TOKEN, ROOT, free_port

RULES = ROOT / "docker" / "prometheus" / "rules.yml"


class Prometheus:
    def __init__(self, targets: dict[str, list[str]]):
        self.tmp = Path(tempfile.mkdtemp(prefix="trainyard-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            # The API's /metrics takes a token; the workers' and the reaper's ports ignore it.
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": hosts}],
                                "authorization": {"type": "Bearer", "credentials": ADMIN_TOKEN}}
                               for job, hosts in targets.items()],
        }
        (self.tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Prometheus":
        with open(self.tmp / "prometheus.log", "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [shutil.which("prometheus"), f"--config.file={self.tmp / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.tmp / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            assert self.proc.poll() is None, (self.tmp / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus never became ready"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def query(self, promql: str) -> list[dict]:
        r = requests.get(self.url + "/api/v1/query", params={"query": promql}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def scalar(self, promql: str) -> float | None:
        """The single value of a query (None when it returns nothing)."""
        result = self.query(promql)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_scalar(self, promql: str, expected: float, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while (got := self.scalar(promql)) != expected:
            assert time.monotonic() < deadline, f"{promql} = {got}, expected {expected}"
            time.sleep(0.5)

    def targets_up(self) -> dict[str, float]:
        return {r["metric"]["job"]: float(r["value"][1]) for r in self.query("up")}
