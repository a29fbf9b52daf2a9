"""The migrations build exactly the schema of radiusd/store/models.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from radiusd.store.database import Database
from radiusd.store.models import Base
from radiusd.store.schema import SchemaError, current_revision, ensure_current, head_revision, upgrade


def test_upgrade_creates_every_table_and_reaches_head(empty_db: Database) -> None:
    assert current_revision(empty_db) is None
    assert upgrade(empty_db) == head_revision()
    assert current_revision(empty_db) == head_revision()
    assert set(Base.metadata.tables) <= set(inspect(empty_db.engine).get_table_names())
    ensure_current(empty_db)


def test_upgrade_twice_changes_nothing(db: Database) -> None:
    assert upgrade(db) == head_revision()
    ensure_current(db)


def test_models_and_migrations_agree(db: Database) -> None:
    """Fails when models.py changed without `make migration` (which regenerates 0001)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models.py and the migrations differ; run 'make migration': {differences}"


def test_a_server_refuses_an_empty_database(empty_db: Database) -> None:
    with pytest.raises(SchemaError) as info:
        ensure_current(empty_db)
    assert str(info.value) == (
        f"the database schema is at nothing (empty database), this radiusd needs {head_revision()}: "
        "run 'radiusd db upgrade'"
    )


def test_a_server_refuses_an_outdated_schema(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaError, match=r"schema is at 0000, this radiusd needs .*radiusd db upgrade"):
        ensure_current(db)
