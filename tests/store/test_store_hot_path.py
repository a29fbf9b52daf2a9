"""The login hot path's store functions (Core on a kept connection): the combined read, the
compare-and-set with the failure clearing in its transaction, one winner among racing threads,
and a dead PostgreSQL connection replaced and retried once."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path

from sqlalchemy import Connection, func, select, text

from radiusd.crypto.keyring import Keyring
from radiusd.engine.lockout import FAIL_SOURCE, FAIL_USER, lock
from radiusd.factors.base import Match
from radiusd.store import admin, auth
from radiusd.store.database import Database
from radiusd.store.models import RateEvent


def _alice(db: Database, keyring: Keyring) -> int:
    with db.session() as s, s.begin():
        admin.add_group(s, "staff")
        admin.add_user(s, "alice", groups=["staff"])
        admin.add_user(s, "bob")
        token = admin.add_token(s, keyring, "alice", "hotp", secret=b"12345678901234567890")
        s.flush()
        return token.id


def _events(db: Database, kind: str, key: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(RateEvent.kind == kind, RateEvent.key == key)) or 0)


def test_load_login_reads_user_groups_tokens_locks_and_failures(db: Database, keyring: Keyring) -> None:
    token_id = _alice(db, keyring)
    now = time.time()
    login = auth.load_login(db, "alice", "alice", ("192.0.2.1", "192.0.2.1 alice"), now)
    assert login.user is not None and login.user.groups == frozenset({"staff"})
    assert [t.id for t in login.user.tokens] == [token_id] and login.user.tokens[0].counter == -1
    assert login.locks == () and not login.has_failures

    with db.session() as s, s.begin():
        lock(s, "user", "alice", "admin", None, "test", now)
        lock(s, "source", "192.0.2.1 alice", "auto", now + 60, "test", now)
        lock(s, "source", "192.0.2.9", "auto", now + 60, "test", now)  # another address
        lock(s, "source", "192.0.2.1", "auto", now - 1, "expired", now - 61)
        s.add(RateEvent(kind=FAIL_USER, key="alice", at=now))
    login = auth.load_login(db, "alice", "alice", ("192.0.2.1", "192.0.2.1 alice"), now)
    assert login.has_failures
    assert sorted((r.scope, r.key, r.set_by) for r in login.locks) == [
        ("source", "192.0.2.1 alice", "auto"),
        ("user", "alice", "admin"),
    ]
    unknown = auth.load_login(db, "nobody", "nobody", ("192.0.2.9",), now)
    assert unknown.user is None and [(r.scope, r.key) for r in unknown.locks] == [("source", "192.0.2.9")]
    assert auth.load_login(db, "bob", "bob", (None,), now).user is not None


def test_consume_clears_the_users_failures_only_when_it_wins(db: Database, keyring: Keyring) -> None:
    token_id = _alice(db, keyring)
    now = time.time()
    with db.session() as s, s.begin():
        s.add_all(
            [
                RateEvent(kind=FAIL_USER, key="alice", at=now),
                RateEvent(kind=FAIL_SOURCE, key="192.0.2.1", at=now),
            ]
        )
    assert not auth.consume(db, Match(token_id, counter=-1), now, None, "alice")  # not above the counter
    assert _events(db, FAIL_USER, "alice") == 1
    assert auth.consume(db, Match(token_id, counter=3), now, None, "alice")
    assert _events(db, FAIL_USER, "alice") == 0 and _events(db, FAIL_SOURCE, "192.0.2.1") == 1
    assert not auth.consume(db, Match(token_id, counter=3), now)  # a replay of the same step


def test_racing_threads_accept_a_code_once(db: Database, keyring: Keyring) -> None:
    token_id = _alice(db, keyring)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for counter in range(5):
            match = Match(token_id, counter=counter)
            wins = list(pool.map(lambda m: auth.consume(db, m, time.time()), [match] * 8))
            assert wins.count(True) == 1


def test_a_dead_connection_is_replaced_and_the_work_retried(db: Database, keyring: Keyring) -> None:
    token_id = _alice(db, keyring)
    assert auth.load_user(db, "alice") is not None
    if db.is_sqlite:
        return
    # The server ends this thread's kept connection (a restart, an idle timeout): the next read and
    # the next write each notice, reconnect and run once more.
    pid = db.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    user = auth.load_user(db, "alice")
    assert user is not None and user.name == "alice"
    pid = db.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with db.engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert auth.consume(db, Match(token_id, counter=7), time.time())
    assert not auth.consume(db, Match(token_id, counter=7), time.time())


def test_the_raw_read_returns_what_core_returns(db: Database, keyring: Keyring) -> None:
    _alice(db, keyring)
    with db.session() as s, s.begin():
        admin.add_token(s, keyring, "alice", "totp", secret=b"x" * 20, params={"digits": 8, "period": 60})
        s.add(RateEvent(kind=FAIL_USER, key="alice", at=time.time()))
        lock(s, "source", "192.0.2.1", "auto", time.time() + 60, "test", time.time())
    conn = db.connection()
    for name in ("alice", "bob", "nobody"):
        params = {"name": name, "user_key": name}
        extra = {**params, "src1": "192.0.2.1", "src2": "192.0.2.1", "now": time.time()}
        raw_rows = auth._RAW_USER_BY_NAME.fetchall(conn, params)
        core_rows = conn.execute(auth._USER_BY_NAME, params).all()
        assert len(raw_rows) == len(core_rows)
        raw_extra = auth._RAW_GROUPS_AND_LOCKS.fetchall(conn, extra)
        core_extra = conn.execute(auth._GROUPS_AND_LOCKS, extra).all()
        assert sorted(raw_extra) == sorted(map(tuple, core_extra))
        # The same Login, field for field and type for type, from sqlite3's tuples and Core's Rows.
        raw, core = auth.login_from_rows(raw_rows, raw_extra), auth.login_from_rows(core_rows, core_extra)
        assert raw == core
        assert raw.locks == core.locks and raw.locks  # the source lock applies to every name
        if raw.user is not None and core.user is not None:
            assert raw.user.tokens == core.user.tokens and (name != "alice" or raw.user.tokens)
            for a, b in zip(raw.user.tokens, core.user.tokens, strict=True):
                types = [(type(getattr(a, f)), type(getattr(b, f))) for f in a.__slots__]
                assert all(x is y for x, y in types), types
            assert type(raw.user.enabled) is bool and type(raw.has_failures) is bool


def test_sqlite_writers_queue_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    """Kept SQLite connections wait for a busy write lock in short steps (SQLite's own busy
    handler is off on them): two databases on one file, as two workers have, both finish every
    write even while the other holds the lock."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    first, second = Database(url, busy_timeout=5.0), Database(url, busy_timeout=5.0)
    try:
        first.write(lambda conn: (conn.exec_driver_sql("CREATE TABLE n (v INTEGER)"), True))

        def hold_lock(conn: Connection) -> tuple[None, bool]:
            conn.exec_driver_sql("INSERT INTO n VALUES (0)")
            time.sleep(0.05)  # the other writers meet a busy database meanwhile
            return None, True

        def add(db: Database, count: int) -> None:
            for i in range(count):
                db.write(lambda conn, v=i: (conn.exec_driver_sql(f"INSERT INTO n VALUES ({v})"), True))

        threads = [threading.Thread(target=first.write, args=(hold_lock,))]
        threads += [threading.Thread(target=add, args=(db, 200)) for db in (first, second, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert first.read(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM n").scalar()) == 601
    finally:
        first.close()
        second.close()
