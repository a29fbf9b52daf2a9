"""Store fixtures: a Database on SQLite or PostgreSQL (db_url), migrated or empty, and a key ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from radiusd.crypto.keyring import Keyring
from radiusd.store.database import Database
from radiusd.store.schema import upgrade


@pytest.fixture
def empty_db(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.close()


@pytest.fixture
def db(empty_db: Database) -> Database:
    upgrade(empty_db)
    return empty_db


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys.json")
