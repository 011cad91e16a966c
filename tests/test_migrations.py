"""Alembic: upgrade, downgrade and upgrade again on both databases; models match migrations."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.db_models import metadata
from tests.conftest import create_database, make_settings, migrate


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    db = create_database(request.param, str(tmp_path))
    yield db
    db.drop()


def _tables(url):
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "head")
    assert _tables(empty_database.url) == set(metadata.tables)
    migrate(settings, "downgrade", "base")
    assert _tables(empty_database.url) == set()
    migrate(settings, "upgrade", "head")
    assert _tables(empty_database.url) == set(metadata.tables)


def test_models_and_migrations_agree(empty_database):
    settings = make_settings(empty_database.url)
    migrate(settings, "upgrade", "head")
    engine = create_engine(empty_database.url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], f"autogenerate would change the schema: {diff}"
