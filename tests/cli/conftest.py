"""CLI fixtures: `radiusd` run in-process against an initialised store on SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Radiusd, make_radiusd


@pytest.fixture
def radiusd(tmp_path: Path, db_url: str) -> Radiusd:
    """`radiusd` after `radiusd init`, its store on SQLite or PostgreSQL."""
    run = make_radiusd(tmp_path, db_url)
    run.ok("init", "--quiet")
    return run


@pytest.fixture
def radiusd_sqlite(tmp_path: Path) -> Radiusd:
    """`radiusd` after `radiusd init` on the default store (SQLite in the data directory)."""
    run = make_radiusd(tmp_path, None)
    run.ok("init", "--quiet")
    return run
