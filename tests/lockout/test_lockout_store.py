"""Lockout and rate limits in the store, on SQLite and PostgreSQL (db_url runs each test on both)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as strategies
from sqlalchemy import delete, event, func, select

from radiusd.config import Config
from radiusd.config.engine import LockoutConfig
from radiusd.context import Context
from radiusd.engine import lockout as lockout_module
from radiusd.engine.lockout import (
    FAIL_SOURCE,
    FAIL_USER,
    KEY_MAX,
    Lockout,
    clear,
    count_cap,
    delay_for,
    lock,
    store_key,
)
from radiusd.store.models import Lock, RateEvent
from radiusd.store.schema import upgrade


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_context(db_url: str, tmp_path: Path, **extra: Any) -> Context:
    cfg = Config.model_validate(
        {"data_dir": str(tmp_path / "data"), "database": {"url": db_url}, **extra},
        context={"base": tmp_path},
    )
    return Context(cfg)


@pytest.fixture
def contexts(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Context]]:
    """Contexts on one fresh database (schema migrated once); several of them act as several nodes."""
    made: list[Context] = []

    def make(**extra: Any) -> Context:
        ctx = make_context(db_url, tmp_path, **extra)
        if not made:
            upgrade(ctx.db)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def lockout(contexts: Callable[..., Context], clock: Clock, sleeps: Sleeps) -> Lockout:
    return Lockout(contexts(), sleep=sleeps, clock=clock)


SETTINGS = LockoutConfig(source_threshold=3, user_threshold=5, lock_duration=60, max_delay=0)
USER_LOCK = SETTINGS.model_copy(update={"lock_user": True})


def run(coro: Callable[[], Coroutine[Any, Any, None]], lockout: Lockout) -> None:
    async def main() -> None:
        try:
            await coro()
        finally:
            await lockout.close()

    asyncio.run(main())


def test_source_blocked_while_user_passes_elsewhere(lockout: Lockout) -> None:
    async def scenario() -> None:
        for _ in range(3):
            assert await lockout.gate("alice", "192.0.2.1", SETTINGS) is None
            await lockout.failure("alice", "192.0.2.1", SETTINGS)
        assert await lockout.gate("alice", "192.0.2.1", SETTINGS) == "source locked: too many failures"
        # The same address is blocked for everybody; the user is not blocked anywhere else.
        assert await lockout.gate("bob", "192.0.2.1", SETTINGS) == "source locked: too many failures"
        assert await lockout.gate("alice", "192.0.2.2", SETTINGS) is None
        assert await lockout.gate("alice", None, SETTINGS) is None
        # More failures for the user from other addresses than user_threshold: still no user lock.
        for n in range(6):
            await lockout.failure("alice", f"198.51.100.{n}", SETTINGS)
        assert await lockout.gate("alice", "203.0.113.1", SETTINGS) is None

    run(scenario, lockout)


def test_user_lock_clear_and_expiry(lockout: Lockout, clock: Clock) -> None:
    ctx = lockout.ctx

    async def scenario() -> None:
        # Two failures from each of three addresses: no address blocked, the user locked at five.
        for n in range(5):
            await lockout.failure("alice", f"192.0.2.{n % 3}", USER_LOCK)
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) == "user locked: too many failures"
        assert await lockout.gate("bob", "192.0.2.0", USER_LOCK) is None

        with ctx.db.sessions.begin() as s:
            assert clear(s, "alice") == 1
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) is None
        # Clearing also restarts the count: one more failure does not lock again.
        await lockout.failure("alice", "192.0.2.9", USER_LOCK)
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) is None

        for n in range(4):
            await lockout.failure("alice", f"192.0.2.{n % 2 + 20}", USER_LOCK)
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) is not None
        clock.now += 59
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) is not None
        clock.now += 2
        assert await lockout.gate("alice", "203.0.113.7", USER_LOCK) is None

    run(scenario, lockout)


def test_repeated_locks_escalate(lockout: Lockout, clock: Clock) -> None:
    async def scenario() -> None:
        async def lock_source() -> float:
            for _ in range(3):
                await lockout.failure("mallory", "192.0.2.66", SETTINGS)
            with lockout.ctx.db.session() as s:
                until = s.scalar(select(Lock.until).where(Lock.scope == "source", Lock.key == "192.0.2.66"))
            assert until is not None
            return until - clock.now

        assert await lock_source() == 60
        clock.now += 61 + SETTINGS.window  # expired, and the old failures left the window
        assert await lockout.gate("mallory", "192.0.2.66", SETTINGS) is None
        assert await lock_source() == 120
        clock.now += 121 + SETTINGS.window
        assert await lock_source() == 240

    run(scenario, lockout)


def test_admin_lock_kept_apart(lockout: Lockout, clock: Clock) -> None:
    ctx = lockout.ctx

    async def scenario() -> None:
        with ctx.db.sessions.begin() as s:
            lock(s, "user", "carol", "admin", None, "left the company", clock.now)
        assert await lockout.gate("carol", "192.0.2.1", USER_LOCK) == "user locked by admin"
        for n in range(5):
            await lockout.failure("carol", f"192.0.2.{n}", USER_LOCK)
        with ctx.db.session() as s:
            rows = {(r.set_by, r.until) for r in s.scalars(select(Lock).where(Lock.key == "carol"))}
        assert rows == {("admin", None), ("auto", clock.now + 60)}
        clock.now += 3600  # the automatic lock expires, the admin's does not
        assert await lockout.gate("carol", "192.0.2.1", USER_LOCK) == "user locked by admin"
        await lockout.prune()
        with ctx.db.session() as s:
            assert s.scalars(select(Lock.set_by).where(Lock.key == "carol")).all() == ["admin"]

    run(scenario, lockout)


def test_two_nodes_share_counts(contexts: Callable[..., Context], clock: Clock) -> None:
    node_a = Lockout(contexts(node="a"), sleep=Sleeps(), clock=clock)
    node_b = Lockout(contexts(node="b"), sleep=Sleeps(), clock=clock)

    async def scenario() -> None:
        await node_a.failure("alice", "192.0.2.5", USER_LOCK)
        await node_b.failure("alice", "192.0.2.5", USER_LOCK)
        assert await node_b.gate("alice", "192.0.2.5", USER_LOCK) is None
        await node_a.failure("alice", "192.0.2.5", USER_LOCK)  # third failure, counted across both
        assert await node_b.gate("alice", "192.0.2.5", USER_LOCK) == "source locked: too many failures"
        await node_b.failure("alice", "192.0.2.6", USER_LOCK)
        await node_b.failure("alice", "192.0.2.6", USER_LOCK)
        assert await node_a.gate("alice", "203.0.113.1", USER_LOCK) == "user locked: too many failures"
        await node_b.close()

    run(scenario, node_a)


def test_concurrent_failures_lock_once(lockout: Lockout) -> None:
    async def scenario() -> None:
        await asyncio.gather(*(lockout.failure("alice", "192.0.2.7", SETTINGS) for _ in range(40)))
        with lockout.ctx.db.session() as s:
            events = dict(s.execute(select(RateEvent.kind, func.count()).group_by(RateEvent.kind)).all())
            locks = s.scalars(select(Lock)).all()
        assert events == {FAIL_USER: 40, FAIL_SOURCE: 40, "lock:source": 1}
        assert [(lk.scope, lk.key, lk.until - lk.created_at) for lk in locks] == [("source", "192.0.2.7", 60)]

    run(scenario, lockout)


def test_shared_source_blocks_per_user(lockout: Lockout) -> None:
    shared = SETTINGS.model_copy(update={"shared_sources": ["10.0.0.0/24"]})

    async def scenario() -> None:
        for _ in range(3):
            await lockout.failure("alice", "10.0.0.1", shared)
        assert await lockout.gate("alice", "10.0.0.1", shared) == "source locked: too many failures"
        assert await lockout.gate("bob", "10.0.0.1", shared) is None
        with lockout.ctx.db.sessions.begin() as s:
            assert clear(s, "10.0.0.1") == 1
        assert await lockout.gate("alice", "10.0.0.1", shared) is None

    run(scenario, lockout)


def test_success_restarts_user_count_not_source_count(lockout: Lockout) -> None:
    async def scenario() -> None:
        for _ in range(2):
            await lockout.failure("alice", "192.0.2.8", USER_LOCK)
        await lockout.success("alice", "192.0.2.8")
        with lockout.ctx.db.session() as s:
            kinds = s.scalars(select(RateEvent.kind)).all()
        assert sorted(kinds) == [FAIL_SOURCE, FAIL_SOURCE]
        await lockout.failure("bob", "192.0.2.8", USER_LOCK)  # the address's third
        assert await lockout.gate("alice", "192.0.2.8", USER_LOCK) is not None

    run(scenario, lockout)


def test_progressive_delay(lockout: Lockout, sleeps: Sleeps) -> None:
    settings = LockoutConfig(source_threshold=50, delay_after=3, max_delay=1.0)

    async def scenario() -> None:
        for _ in range(10):
            await lockout.failure("alice", "192.0.2.9", settings)

    run(scenario, lockout)
    assert sleeps == [0.125, 0.25, 0.5, 1.0, 1.0, 1.0, 1.0]
    assert [delay_for(n, settings) for n in (0, 3, 4, 100_000)] == [0, 0, 0.125, 1.0]


def test_gate_is_one_query(lockout: Lockout) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = lockout.ctx.db.engine

    async def scenario() -> None:
        await lockout.gate("warm", "192.0.2.1", SETTINGS)  # first connection runs its own setup
        event.listen(engine, "before_cursor_execute", count)
        try:
            await lockout.gate("alice", "192.0.2.1", SETTINGS)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    run(scenario, lockout)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert len(statements) == 1


def test_hostile_names_and_addresses(lockout: Lockout) -> None:
    names = ["nul\x00byte", "x" * 5000, "bad\udcffutf8", "", "'; drop table locks; --", "ü@例え.jp"]

    async def scenario() -> None:
        for name in names:
            for source in ("192.0.2.10", "not an address", "", None, "2001:db8::1%eth0"):
                for _ in range(3):
                    await lockout.failure(name, source, SETTINGS)
                await lockout.gate(name, source, SETTINGS)
        for name in names:
            assert await lockout.gate(name, "203.0.113.50", SETTINGS) is None
        # Long names share no key: locking one must not lock another with the same prefix.
        with lockout.ctx.db.sessions.begin() as s:
            lock(s, "user", "y" * 400 + "a", "admin", None, "", 0)
        assert await lockout.gate("y" * 400 + "b", None, SETTINGS) is None

    run(scenario, lockout)


@settings(max_examples=500, deadline=None)
@given(
    text=strategies.one_of(
        strategies.text(), strategies.text(alphabet=strategies.characters(max_codepoint=127), max_size=400)
    )
)
def test_store_key_shortcut_changes_nothing(text: str) -> None:
    """Short plain ASCII is its own key; anything else is escaped (and hashed when long), as before."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    key = store_key(text)
    if len(safe) <= KEY_MAX:
        assert key == safe
    else:
        assert len(key) == 190 + 1 + 64 and key.startswith(safe[:190] + "#")


def test_prune_removes_old_events_only(lockout: Lockout, clock: Clock) -> None:
    async def scenario() -> None:
        await lockout.failure("old", "192.0.2.11", SETTINGS)
        clock.now += SETTINGS.window + 1
        await lockout.failure("new", "192.0.2.12", SETTINGS)
        await lockout.prune()
        with lockout.ctx.db.session() as s:
            keys = sorted(s.scalars(select(RateEvent.key)).all())
        assert keys == ["192.0.2.12", "new"]

    run(scenario, lockout)


def test_raw_failure_statements_do_what_core_does(lockout: Lockout) -> None:
    """The failure's INSERT and counts run on the driver itself (sqlite3, psycopg), compiled from
    the Core statements: the same rows and the same (capped) counts as Core's."""
    db = lockout.ctx.db
    m = lockout_module
    conn = db.connection()
    for src_key in ("192.0.2.1", None):
        for n in range(12):
            params = {"user_key": "alice", "src_key": src_key, "now": 1000.0 + n, "since": 999.5, "cap": 7}
            core_params = {**params, "user_key": "core-alice", "src_key": src_key and "core-" + src_key}
            (m._RAW_ADD_USER_EVENT if src_key is None else m._RAW_ADD_EVENTS).execute(conn, params)
            conn.execute(m._ADD_USER_EVENT if src_key is None else m._ADD_EVENTS, core_params)
            for cap in (1, 7, 100):
                raw = tuple(m._RAW_COUNTS.execute(conn, {**params, "cap": cap}).fetchone())
                core = tuple(conn.execute(m._COUNTS, {**core_params, "cap": cap}).one())
                assert raw == core
                assert all(type(a) is int for a in raw)
        with db.session() as s:
            rows = s.execute(select(RateEvent.kind, RateEvent.key, RateEvent.at).order_by(RateEvent.id)).all()
        raw_rows = [(k, key, at) for k, key, at in rows if not key.startswith("core-")]
        core_rows = [(k, key[5:], at) for k, key, at in rows if key.startswith("core-")]
        assert raw_rows == core_rows
        with db.sessions.begin() as s:
            s.execute(delete(RateEvent))


def test_counts_stop_at_the_cap_and_nothing_else_changes(lockout: Lockout, sleeps: Sleeps) -> None:
    """Past the highest threshold and the saturated delay a count changes nothing: it is read up
    to count_cap only, and the locks and delays are those of the full count."""
    for st, ut, lu, da, md in itertools.product(
        [1, 3, 10], [5, 30], [False, True], [0, 3, 7], [0, 0.1, 0.125, 2, 1e12]
    ):
        if lu and st >= ut:
            continue
        s = LockoutConfig(source_threshold=st, user_threshold=ut, lock_user=lu, delay_after=da, max_delay=md)
        cap = count_cap(s)
        assert cap >= st and (not lu or cap >= ut)
        assert all(delay_for(min(n, cap), s) == delay_for(n, s) for n in range(cap + 80))
    settings = LockoutConfig(
        source_threshold=4, user_threshold=6, lock_user=True, delay_after=1, max_delay=0.5
    )
    assert count_cap(settings) == 6
    counted: list[tuple[int, int]] = []

    async def scenario() -> None:
        for n in range(12):
            counts = await lockout.ctx.db.write_async(
                lockout.count_failure, "alice", f"192.0.2.{n % 2}", settings, lockout.now()
            )
            counted.append((counts.user, counts.source))
            await lockout._sleep(delay_for(max(counts.user, counts.source), settings))
        assert await lockout.gate("alice", "203.0.113.1", settings) == "user locked: too many failures"
        assert await lockout.gate("bob", "192.0.2.0", settings) == "source locked: too many failures"

    run(scenario, lockout)
    assert counted == [(min(n, 6), min((n + 1) // 2, 6)) for n in range(1, 13)]
    assert sleeps == [delay_for(n, settings) for n in range(1, 13)]
    with lockout.ctx.db.session() as s:
        assert s.scalar(select(func.count()).where(RateEvent.kind == FAIL_USER)) == 12
