"""A migrated database to copy: ``start.sh migrate`` (Alembic's 100-odd revisions and the demo
datasets) costs seconds of CPU per stack, ``CREATE DATABASE ... TEMPLATE`` a fraction of one.

The template is named after a hash of what ``migrate`` runs (the migrations, the code they and
the demo registration import, the admin token they store), so any change to those builds a new
one; pytest-xdist processes build it once between them, under a PostgreSQL advisory lock, and
templates of other versions are dropped then, but for the KEEP newest (two checkouts testing at
once must not drop each other's)."""

from __future__ import annotations

import functools
import hashlib
import subprocess
import tempfile
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "trainyard_tmpl_"
_INPUTS = ("migrations", "alembic.ini", "contracts", "webcommon", "app", "dao", "models", "start.sh",
           "tests/service/template_db.py")
_LOCK = 0x7472_6169  # one advisory lock key for building and copying templates
KEEP = 2  # other versions' templates kept when one is built


@functools.cache
def template_name(admin_token: str) -> str:
    digest = hashlib.sha256(admin_token.encode())
    for top in _INPUTS:
        path = ROOT / top
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return PREFIX + digest.hexdigest()[:16]


def create_migrated(pg_admin: str, name: str, env: dict[str, str]) -> None:
    """Create database ``name`` as ``start.sh migrate`` would leave it, for ``env``'s admin token."""
    template = template_name(env["TRAINYARD_ADMIN_TOKEN"])
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK])
        try:  # copied under the lock too: a build elsewhere drops other versions' templates
            if not _exists(conn, template):
                _build(conn, template, env)
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK])


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def _build(conn: psycopg.Connection, template: str, env: dict[str, str]) -> None:
    others = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY oid DESC",
                          [PREFIX + "%"]).fetchall()
    for (old,) in others[KEEP:]:  # the newest are kept: another checkout's run may be using its own
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{old}"')
        except psycopg.errors.ObjectInUse:  # another checkout's run is copying it right now
            pass
    building = template + "_building"
    conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')  # a build killed part-way
    conn.execute(f'CREATE DATABASE "{building}"')
    server = conn.info.host + ":" + str(conn.info.port)
    url = f"postgresql+psycopg://postgres@{server}/{building}"
    with tempfile.TemporaryDirectory(prefix="trainyard-template-") as store:
        out = subprocess.run([str(ROOT / "start.sh"), "migrate"],
                             env={**env, "TRAINYARD_DATABASE_URL": url, "TRAINYARD_ARTIFACT_URL": f"file://{store}"},
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            raise AssertionError(out.stdout + out.stderr)
        _datasets_into_rows(conninfo_of(conn, building), Path(store))
    conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')


def conninfo_of(conn: psycopg.Connection, dbname: str) -> str:
    return f"host={conn.info.host} port={conn.info.port} user=postgres dbname={dbname}"


def _datasets_into_rows(conninfo: str, store: Path) -> None:
    """The demo datasets ``migrate`` registered are objects in a store of its own; every copy of
    the template gets a store of its own too, so their bytes go into their rows (as datasets
    stored before the blob store keep them, a path every reader serves)."""
    with psycopg.connect(conninfo, autocommit=True) as db:
        for name, key in db.execute("SELECT name, blob_key FROM datasets WHERE blob_key IS NOT NULL").fetchall():
            db.execute("UPDATE datasets SET data = %s, blob_key = NULL WHERE name = %s",
                       [(store / key).read_bytes(), name])
