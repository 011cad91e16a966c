"""Where the schema stands: the Alembic heads on disk versus the revision in the database."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from app.settings import Settings


def alembic_config(settings: Settings, *, database_url: str | None = None) -> Config:
    """Return an Alembic config for this project, pointed at `database_url` when given."""
    config = Config(str(settings.alembic_ini))
    config.set_main_option("script_location", str(Path(settings.alembic_ini).parent / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


@lru_cache(maxsize=4)
def _heads_for(ini_path: str) -> frozenset[str]:
    config = Config(ini_path)
    config.set_main_option("script_location", str(Path(ini_path).parent / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def expected_heads(settings: Settings) -> frozenset[str]:
    """Return the head revisions of the migration scripts (read once per process)."""
    return _heads_for(str(settings.alembic_ini))


def current_heads(connection: Connection) -> frozenset[str]:
    """Return the revisions the database is stamped with."""
    return frozenset(MigrationContext.configure(connection).get_current_heads())
