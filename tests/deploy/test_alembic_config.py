"""alembic.ini uses the current path_separator setting: no deprecation warning on every migrate."""

import warnings
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


def test_alembic_reads_its_config_without_deprecation_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
        assert len(script.get_heads()) == 1
