"""Runs a probe script in a fresh interpreter on an embedded database, for the tests that prove
a role never imports a deep-learning framework (its output names the heavy modules it saw)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def heavy_modules_line(probe: str, var_dir: Path) -> str:
    """The probe's stdout; it runs with auth off (the probes are about imports, not tokens).
    Raises AssertionError when the probe fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env["TRAINYARD_VAR_DIR"] = str(var_dir)
    env["TRAINYARD_AUTH"] = "off"
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout
