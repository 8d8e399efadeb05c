import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def embedded_db(tmp_path, monkeypatch):
    """A migrated SQLite database and a filesystem broker under tmp_path, for this process."""
    from blobstore import reset_store
    from dao.db import reset_engines
    from contracts.settings import reset_settings
    from tasks.celery_app import reset_celery
    from tasks.dispatch import forget_fleet

    for key in [k for k in os.environ if k.startswith("TRAINYARD_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("TRAINYARD_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TRAINYARD_LEASE_SECONDS", "30")
    monkeypatch.setenv("TRAINYARD_MAX_ATTEMPTS", "3")
    env = {k: v for k, v in os.environ.items()}
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    reset_settings(), reset_engines(), reset_celery(), forget_fleet(), reset_store()
    yield tmp_path
    reset_engines()
    reset_settings(), reset_celery(), reset_store()
