"""A fresh virtual environment with one pip requirement installed, for the tests that prove what
a role's extra brings (and what it leaves out)."""

from __future__ import annotations

import subprocess
import venv
from pathlib import Path


def venv_with(tmp_path: Path, requirement: str) -> Path:
    """The new venv's folder. Raises AssertionError with pip's output when the install fails."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    install = subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", requirement],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    return env_dir
