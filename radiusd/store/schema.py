"""The store's schema version: upgrade to the newest migration, or refuse to run on an old one.

The migrations (Alembic) live inside the package, with their alembic.ini, so an installed radiusd
migrates its own store: `radiusd db upgrade`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from radiusd.store.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")

# Alembic announces its dialect at INFO on every schema check; radiusd reports what matters itself.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)


class SchemaError(Exception):
    """The database is not at the schema this radiusd needs."""


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig(str(MIGRATIONS / "alembic.ini"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships no migration"
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> str:
    """Migrate to the newest schema; returns the revision reached."""
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()


def ensure_current(db: Database) -> None:
    """Refuse to work on a database whose schema is not the one this radiusd was built for."""
    current, head = current_revision(db), head_revision()
    if current != head:
        raise SchemaError(
            f"the database schema is at {current or 'nothing (empty database)'}, "
            f"this radiusd needs {head}: run 'radiusd db upgrade'"
        )
