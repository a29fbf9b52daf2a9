"""The hourly code limits in the store: per user and per source, shared by all workers and nodes,
and exact when logins race for the last code (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from radiusd.delivery.limits import KIND_SOURCE, KIND_USER, WINDOW, take_code_allowance
from radiusd.store.database import Database
from radiusd.store.models import RateEvent
from radiusd.store.schema import upgrade


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=16)
    upgrade(database)
    yield database
    database.close()


def race(count: int, call: Callable[[int], str | None]) -> list[str | None]:
    """`count` calls released at the same instant, each on its own connection."""
    barrier = threading.Barrier(count)

    def one(i: int) -> str | None:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_user_and_source_limits_slide_over_an_hour(db: Database) -> None:
    now = time.time()
    user_full = "code limit reached: 2 per hour for this user"
    source_full = "code limit reached: 2 per hour for source 10.0.0.1"
    assert take_code_allowance(db, "alice", "10.0.0.1", 2, 2, now - WINDOW + 5) is None
    assert take_code_allowance(db, "alice", "10.0.0.1", 2, 2, now) is None
    assert take_code_allowance(db, "alice", "10.0.0.2", 2, 2, now) == user_full
    assert take_code_allowance(db, "bob", "10.0.0.1", 2, 2, now) == source_full
    # A refusal counts nothing: bob has no code yet, 10.0.0.2 none.
    assert take_code_allowance(db, "bob", "10.0.0.2", 2, 2, now) is None
    # alice's first code leaves the window: she may have one more, and its events are deleted.
    assert take_code_allowance(db, "alice", "10.0.0.3", 2, 2, now + 10) is None
    with db.session() as s:
        assert s.query(RateEvent).filter(RateEvent.kind.in_([KIND_USER, KIND_SOURCE])).count() == 6


def test_racing_logins_of_one_user_get_exactly_the_limit(db: Database) -> None:
    now = time.time()
    results = race(12, lambda i: take_code_allowance(db, "alice", f"10.0.1.{i}", 5, 100, now))
    assert results.count(None) == 5
    assert set(results) == {None, "code limit reached: 5 per hour for this user"}


def test_racing_logins_from_one_source_get_exactly_the_limit(db: Database) -> None:
    now = time.time()
    results = race(12, lambda i: take_code_allowance(db, f"user{i}", "10.0.2.1", 100, 4, now))
    assert results.count(None) == 4
    assert set(results) == {None, "code limit reached: 4 per hour for source 10.0.2.1"}
