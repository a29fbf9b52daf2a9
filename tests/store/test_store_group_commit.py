"""The event loop's store path (Database.read_async / write_async): on SQLite the writes queued in
one turn of the loop share one transaction, each keeps its own verdict, one that fails or rolls
back undoes only itself, and a write lock held elsewhere delays them without stopping the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from radiusd.config.engine import LockoutConfig
from radiusd.crypto.keyring import Keyring
from radiusd.engine.lockout import Lockout
from radiusd.factors.base import Match
from radiusd.store import admin, auth
from radiusd.store.database import Database
from radiusd.store.models import RateEvent, Token
from radiusd.store.schema import upgrade


def _token(db: Database, keyring: Keyring, user: str = "alice") -> int:
    with db.session() as s, s.begin():
        admin.add_user(s, user)
        token = admin.add_token(s, keyring, user, "hotp", secret=b"12345678901234567890")
        s.flush()
        return token.id


def _counter(db: Database, token_id: int) -> int:
    with db.session() as s:
        return int(s.scalar(select(Token.counter).where(Token.id == token_id)) or 0)


def _failures(db: Database, key: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(RateEvent.key == key)) or 0)


def _run(coro: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(coro())


def _transactions(db: Database) -> list[str]:
    """The BEGINs that the loop thread's kept SQLite connection runs from now on."""
    seen: list[str] = []
    raw = db.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("BEGIN") else None)
    return seen


def half_then_fail(conn: Connection, key: str) -> tuple[None, bool]:
    """A write that counts a failure, then fails."""
    Lockout.count_failure(conn, key, None, _lockout(), time.time())
    raise RuntimeError("boom")


def half_then_roll_back(conn: Connection, key: str) -> tuple[str, bool]:
    """A write that counts a failure, then asks to be rolled back."""
    Lockout.count_failure(conn, key, None, _lockout(), time.time())
    return "rolled back", False


def test_racing_consumes_have_one_winner_on_both_stores(db: Database, keyring: Keyring) -> None:
    token_id = _token(db, keyring)

    async def race() -> list[list[bool]]:
        rounds = []
        for counter in range(4):
            match = Match(token_id, counter=counter)
            rounds.append(
                await asyncio.gather(
                    *(db.write_async(auth.consume_in, match, time.time(), None, None) for _ in range(8))
                )
            )
        return rounds

    rounds = _run(race)
    assert [r.count(True) for r in rounds] == [1, 1, 1, 1]
    assert _counter(db, token_id) == 3


def test_writes_of_one_loop_turn_share_one_transaction(sqlite_db: Database, keyring: Keyring) -> None:
    db = sqlite_db
    token_id = _token(db, keyring)
    begins = _transactions(db)

    async def batch() -> list[Any]:
        writes = [
            db.write_async(auth.consume_in, Match(token_id, counter=n), time.time(), None, None)
            for n in range(20)
        ]
        writes += [
            db.write_async(Lockout.count_failure, "bob", f"192.0.2.{n}", _lockout(), time.time())
            for n in range(5)
        ]
        return await asyncio.gather(*writes)

    results = _run(batch)
    assert begins == ["BEGIN IMMEDIATE"]
    # Counters 0..19 in order: each compare-and-set moved the counter, so each won.
    assert results[:20] == [True] * 20
    assert [c.user for c in results[20:]] == [1, 2, 3, 4, 5]
    assert _counter(db, token_id) == 19 and _failures(db, "bob") == 5


def test_a_failing_or_rolled_back_write_undoes_only_itself(sqlite_db: Database, keyring: Keyring) -> None:
    db = sqlite_db
    token_id = _token(db, keyring)

    async def batch() -> list[Any]:
        return await asyncio.gather(
            db.write_async(auth.consume_in, Match(token_id, counter=1), time.time(), None, None),
            db.write_async(half_then_fail, "carol"),
            db.write_async(half_then_roll_back, "dave"),
            db.write_async(Lockout.count_failure, "erin", None, _lockout(), time.time()),
            return_exceptions=True,
        )

    won, failed, rolled_back, counted = _run(batch)
    assert won is True
    assert isinstance(failed, RuntimeError)
    assert rolled_back == "rolled back"
    assert counted.user == 1
    assert _counter(db, token_id) == 1
    assert (_failures(db, "carol"), _failures(db, "dave"), _failures(db, "erin")) == (0, 0, 1)


def test_a_lone_write_is_its_own_transaction(sqlite_db: Database, keyring: Keyring) -> None:
    """At low load a turn holds one write: no savepoint, and a failure or a rollback undoes it
    whole while the next lone write commits as usual."""
    db = sqlite_db
    token_id = _token(db, keyring)
    statements: list[str] = []
    raw = db.connection().connection.driver_connection
    assert isinstance(raw, sqlite3.Connection)
    raw.set_trace_callback(statements.append)

    async def one_at_a_time() -> list[Any]:
        results: list[Any] = []
        for write in (
            lambda: db.write_async(half_then_fail, "carol"),
            lambda: db.write_async(half_then_roll_back, "dave"),
            lambda: db.write_async(auth.consume_in, Match(token_id, counter=1), time.time(), None, None),
        ):
            try:
                results.append(await write())
            except RuntimeError as error:
                results.append(error)
        return results

    failed, rolled_back, won = _run(one_at_a_time)
    assert isinstance(failed, RuntimeError) and rolled_back == "rolled back" and won is True
    assert (_failures(db, "carol"), _failures(db, "dave"), _counter(db, token_id)) == (0, 0, 1)
    assert not any(sql.startswith(("SAVEPOINT", "RELEASE")) for sql in statements)
    assert [sql for sql in statements if sql in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")] == [
        "BEGIN IMMEDIATE", "ROLLBACK", "BEGIN IMMEDIATE", "ROLLBACK", "BEGIN IMMEDIATE", "COMMIT",
    ]  # fmt: skip


def test_a_write_lock_held_elsewhere_delays_the_writes_not_the_loop(
    sqlite_db: Database, keyring: Keyring
) -> None:
    db = sqlite_db
    token_id = _token(db, keyring)
    other = sqlite3.connect(db.engine.url.database or "", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another worker's transaction, held for 50 ms
    threading.Timer(0.05, lambda: other.execute("COMMIT")).start()

    async def scenario() -> tuple[list[bool], int, Any]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.002)
                ticks += 1

        ticking = asyncio.get_running_loop().create_task(ticker())
        writes = asyncio.gather(
            *(
                db.write_async(auth.consume_in, Match(token_id, counter=n), time.time(), None, None)
                for n in range(3)
            )
        )
        # A read does not wait for the write lock (WAL).
        user = await db.read_async(auth.read_login, "alice", "alice", (None,), time.time())
        results = await writes
        ticking.cancel()
        return results, ticks, user

    started = time.monotonic()
    results, ticks, user = _run(scenario)
    other.close()
    assert results == [True, True, True]
    assert time.monotonic() - started >= 0.05
    assert ticks >= 5  # the loop went on running while the writes waited for the lock
    assert user.user is not None and user.user.name == "alice"


def test_a_lock_held_past_the_busy_timeout_fails_the_writes(tmp_path: Path, keyring: Keyring) -> None:
    db = Database(f"sqlite:///{tmp_path}/short.db", busy_timeout=0.05)
    try:
        upgrade(db)
        token_id = _token(db, keyring)
        other = sqlite3.connect(tmp_path / "short.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")

        async def write() -> Any:
            return await asyncio.gather(
                db.write_async(auth.consume_in, Match(token_id, counter=1), time.time(), None, None),
                return_exceptions=True,
            )

        (error,) = _run(write)
        other.execute("ROLLBACK")
        other.close()
        assert isinstance(error, sqlite3.OperationalError) and "locked" in str(error)
        assert _counter(db, token_id) == -1
        # Once the lock is free again, writes go through.
        assert _run(write) == [True]
    finally:
        db.close()


def _lockout() -> LockoutConfig:
    return LockoutConfig()


def _consume(db: Database, token_id: int, counter: int) -> Coroutine[Any, Any, bool]:
    return db.write_async(auth.consume_in, Match(token_id, counter=counter), time.time(), None, None)


def _fail(db: Database, user: str, source: str | None) -> Coroutine[Any, Any, Any]:
    return db.write_async(Lockout.count_failure, user, source, _lockout(), time.time())


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Any:
    db = Database(f"sqlite:///{tmp_path}/radiusd.db")
    upgrade(db)
    yield db
    db.close()
