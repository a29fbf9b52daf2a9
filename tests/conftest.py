"""Shared fixtures: fresh stores on SQLite and PostgreSQL, configuration files, free ports.

In CI (CI=true) a missing PostgreSQL or Debian tool is a failure, never a skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import PG_ADMIN_URL, unavailable, write_config

# Searches every log line and audit row of the run for the passwords and codes the tests used.
pytest_plugins = ["audit.secret_scan"]


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        engine.dispose()
        unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin: Any) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import text

    name = f"radiusd_t_{secrets.token_hex(6)}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    from audit.secret_scan import collect_database

    collect_database(url)  # its audit rows join the run-wide secret scan before they are gone
    with pg_admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'radiusd.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A minimal configuration with its data directory in the test's temporary folder."""
    return write_config(
        tmp_path / "radiusd.yaml",
        {"data_dir": str(tmp_path / "data"), "backends": {"local": {"time_cost": 1, "memory_cost": 8}}},
    )
