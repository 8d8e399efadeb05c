"""The embedded default's first start: the service admin's token written once to
var/admin-token with mode 0600, TRAINYARD_ADMIN_TOKEN instead of it, and the warning that
TRAINYARD_AUTH=off logs at every start."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(var: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
    env.update(TRAINYARD_VAR_DIR=str(var), TRAINYARD_NO_VENV="1",
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}", **extra)
    return env


def _migrate(env: dict[str, str]) -> str:
    out = subprocess.run([str(ROOT / "start.sh"), "migrate"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _whoami(env: dict[str, str], token: str) -> tuple[int, dict]:
    probe = ("import sys, json; from app import create_app; c = create_app().test_client(); "
             "r = c.get('/api/v0/whoami', headers={'Authorization': 'Bearer ' + sys.argv[1]}); "
             "print(r.status_code, json.dumps(r.json))")
    out = subprocess.run([sys.executable, "-c", probe, token], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    code, _, body = out.stdout.strip().splitlines()[-1].partition(" ")
    import json

    return int(code), json.loads(body)


def test_the_first_start_writes_the_admin_token_once_with_mode_0600(tmp_path):
    env = _env(tmp_path / "var")
    first = _migrate(env)
    path = tmp_path / "var" / "admin-token"
    assert f"its token is in {path.resolve()}" in first, first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert token.startswith("ty_") and len(token) > 40
    again = _migrate(env)
    assert path.read_text().strip() == token and "created" not in again and str(path.resolve()) in again
    code, me = _whoami(env, token)
    assert code == 200 and me["user"] == {"id": 1, "name": "admin", "is_admin": True}
    assert _whoami(env, token + "x")[0] == 401


def test_trainyard_admin_token_is_the_admins_token_and_no_file_is_written(tmp_path):
    env = _env(tmp_path / "var", TRAINYARD_ADMIN_TOKEN="ty_from-a-kubernetes-secret-0123456789")
    assert "TRAINYARD_ADMIN_TOKEN" in _migrate(env)
    assert not (tmp_path / "var" / "admin-token").exists()
    assert _whoami(env, "ty_from-a-kubernetes-secret-0123456789")[1]["user"]["is_admin"] is True


def test_auth_off_warns_at_every_start(tmp_path):
    env = _env(tmp_path / "var", TRAINYARD_AUTH="off")
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    probe = ("from app import create_app; from serving.app import create_serving_app; "
             "c = create_app().test_client(); print(c.get('/api/v0/tasks').status_code); create_serving_app()")
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == "200"
        assert out.stderr.count("TRAINYARD_AUTH=off") == 2, out.stderr  # the API's and the serving app's
