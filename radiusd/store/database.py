"""Connections to the store: SQLite (WAL, busy timeout) by default, PostgreSQL for several nodes.

Database work is blocking, so async callers go through `Database.run`, which uses a thread pool of
its own: a slow query can delay other queries but never the event loop. The one exception is the
login path on SQLite (`read_async` / `write_async`, below), whose statements take microseconds and
never wait for a lock on the loop.

Two ways in:

- `session()`: an ORM Session from the pool, for the admin CLI, enrolment and everything rare.
- `read(fn, …)` / `write(fn, …)`: the login hot path, blocking. `fn(conn, …)` runs on a
  Connection kept open by the calling thread (no pool checkout, no reset), in autocommit mode: a
  read is its statements and nothing else; a write is one explicit transaction, `BEGIN
  IMMEDIATE` on SQLite (the write lock taken up front, so no read-to-write upgrade can fail
  half-way) and `BEGIN` on PostgreSQL. A connection found dead (PostgreSQL restarted, idle
  timeout) is replaced and the work retried once: a retried compare-and-set that had in fact
  committed loses to itself and rejects, it never accepts twice.

The engine reaches them through `await read_async(fn, …)` / `await write_async(fn, …)`. On SQLite
the statements run on the event loop itself and the writes queued at one moment share one
transaction (radiusd.store.group_commit explains why); on PostgreSQL, whose statements are
network round trips, they run on the thread pool, one transaction per write.

SQLite's own busy handler waits for a lock in sleeps of 1, 2, 5 … 100 ms, so a login that meets
another worker's write could wait far longer than the write lasts. The kept SQLite connections
therefore turn it off and retry a busy statement themselves in steps of 0.1 to 2 ms, up to the
configured busy timeout: a waiting writer queues behind a write of tens of microseconds instead of
sleeping past it. They also leave WAL checkpoints to a background thread: an automatic checkpoint
runs in whichever commit crosses the threshold and syncs the database file there, which made one
login in a few hundred wait for the disk. The thread runs a round of radiusd.store.checkpoint
once a second, which also keeps the log from growing without bound under steady load.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from radiusd.store import checkpoint
from radiusd.store.group_commit import Busy, GroupCommit, is_busy

T = TypeVar("T")

SQLITE_THREADS = 2
"""Store threads for SQLite: writes serialise on its one write lock, more threads only queue."""
BUSY_FIRST_PAUSE = 0.0001
BUSY_MAX_PAUSE = 0.002
PG_RECYCLE = 1800
"""Seconds after which a pooled PostgreSQL connection is replaced (instead of a ping per checkout)."""


def _sqlite_pragmas(busy_timeout: float) -> Callable[..., None]:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA journal_size_limit={checkpoint.SIZE_LIMIT}")
        cur.close()

    return on_connect


def make_engine(url: str, busy_timeout: float = 5.0, pool_size: int = 8) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_driver_name() == "psycopg":
        connect_args["prepare_threshold"] = 1  # server-side prepared from the second execution
    # No pool_pre_ping (a SELECT 1 before every checkout doubled the round trips): connections are
    # recycled, and a dead one is detected by the failing statement (the pool is then invalidated).
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=PG_RECYCLE,
        connect_args=connect_args,
    )


def connection_lost(conn: Connection, error: BaseException) -> bool:
    """Whether `error` means the connection is gone (server restarted, idle timeout), so that the
    work may be retried once on a new one: SQLAlchemy says so for Core statements; for the
    driver's own errors (auth.RawStatement) the driver's connection tells."""
    if isinstance(error, exc.DBAPIError):
        return bool(error.connection_invalidated)
    try:
        driver = conn.connection.driver_connection
    except exc.SQLAlchemyError:  # closed or invalidated: the original error is what to report
        return False
    return bool(getattr(driver, "broken", False) or getattr(driver, "closed", False))


class Database:
    def __init__(self, url: str, busy_timeout: float = 5.0, pool_size: int = 8) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout, pool_size)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.busy_timeout = busy_timeout
        threads = min(pool_size, SQLITE_THREADS) if self.is_sqlite else pool_size
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")
        self._begin = "BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN"
        self._local = threading.local()
        self._kept: list[Connection] = []
        self._kept_lock = threading.Lock()
        self._pid = os.getpid()
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()
        self._group: GroupCommit | None = None

    def session(self) -> Session:
        return self.sessions()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking store work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def read_async(self, fn: Callable[..., T], *args: Any) -> T:
        """`read(fn, …)` for the event loop: on SQLite run right there (radiusd.store.group_commit),
        elsewhere on the thread pool."""
        if self.is_sqlite:
            try:
                return self._group_commit().read(fn, args)  # type: ignore[no-any-return]
            except Busy:
                pass  # rare in WAL mode: let a store thread wait for it
        return await self.run(self.read, fn, *args)

    async def write_async(self, fn: Callable[..., tuple[T, bool]], *args: Any) -> T:
        """`write(fn, …)` for the event loop: on SQLite in the loop's next group commit (its own
        savepoint; the result once that transaction committed), elsewhere on the thread pool."""
        if self.is_sqlite:
            return await self._group_commit().write(fn, args)  # type: ignore[no-any-return]
        return await self.run(self.write, fn, *args)

    def _group_commit(self) -> GroupCommit:
        loop = asyncio.get_running_loop()
        if self._group is None or self._group.loop is not loop:
            self._group = GroupCommit(self, loop)
        return self._group

    # -- the hot path: one kept connection per store thread ------------------------------------

    def connection(self) -> Connection:
        """This thread's kept connection, in autocommit mode (opened on first use)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._pid != os.getpid():
            if self._pid != os.getpid():  # a forked worker: never share the parent's connections
                self._pid, self._kept, self._local = os.getpid(), [], threading.local()
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.is_sqlite:
                conn.exec_driver_sql("PRAGMA busy_timeout=0")  # waits are retried in _busy_retry
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # _checkpoint_loop does it
                # The login path never shrinks the log file (checkpoint.SIZE_LIMIT says why).
                conn.exec_driver_sql("PRAGMA journal_size_limit=-1")
                self._start_checkpointer()
            self._local.conn = conn
            with self._kept_lock:
                self._kept.append(conn)
        return conn

    def _start_checkpointer(self) -> None:
        with self._kept_lock:
            if self._checkpointer is None or not self._checkpointer.is_alive():
                self._stop = threading.Event()
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop, name="wal-checkpoint", daemon=True
                )
                self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        stop = self._stop
        path = self.engine.url.database
        db_file = None
        if path and path != ":memory:" and not path.startswith("file:"):
            with contextlib.suppress(OSError):  # then SQLite syncs it under the lock
                db_file = os.open(path, os.O_RDONLY)
        try:
            with self.engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert isinstance(raw, sqlite3.Connection)
                raw.execute("PRAGMA busy_timeout=0")  # a checkpoint never waits (radiusd.store.checkpoint)
                while not stop.wait(checkpoint.INTERVAL):
                    with contextlib.suppress(sqlite3.Error, OSError):  # busy or closing: next round
                        checkpoint.checkpoint(raw, db_file)
        finally:
            if db_file is not None:
                os.close(db_file)

    def forget(self, conn: Connection) -> None:
        """Drop this thread's kept connection (found dead); the next use opens a new one."""
        self._local.conn = None
        with self._kept_lock:
            if conn in self._kept:
                self._kept.remove(conn)
        try:
            conn.invalidate()
            conn.close()
        except Exception:
            pass

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(conn, *args) on this thread's kept connection, outside any transaction."""
        conn = self.connection()
        try:
            return self._busy_retry(fn, conn, *args)
        except Exception as error:
            if not connection_lost(conn, error):
                raise
        self.forget(conn)
        return self._busy_retry(fn, self.connection(), *args)

    def write(self, fn: Callable[..., tuple[T, bool]], *args: Any) -> T:
        """fn(conn, *args) in one transaction (BEGIN IMMEDIATE on SQLite); fn returns
        (result, commit): committed when commit is true, else rolled back."""
        conn = self.connection()
        try:
            return self._transaction(conn, fn, *args)
        except Exception as error:
            if not connection_lost(conn, error):
                raise
        self.forget(conn)
        return self._transaction(self.connection(), fn, *args)

    def _busy_retry(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args), retried while SQLite reports the database busy, up to the busy timeout."""
        if not self.is_sqlite:
            return fn(*args)
        deadline = time.monotonic() + self.busy_timeout
        pause = BUSY_FIRST_PAUSE
        while True:
            try:
                return fn(*args)
            except (exc.OperationalError, sqlite3.OperationalError) as error:
                if not is_busy(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, BUSY_MAX_PAUSE)

    def _transaction(self, conn: Connection, fn: Callable[..., tuple[T, bool]], *args: Any) -> T:
        # Transaction control goes to the driver itself, as the hot statements do (the kept
        # connection is in autocommit mode: SQLAlchemy tracks no transaction on it). Only BEGIN
        # IMMEDIATE can meet a busy database: once it holds the write lock, the statements and
        # the COMMIT of a WAL database do not wait for anyone.
        raw = conn.connection.driver_connection
        assert raw is not None
        self._busy_retry(raw.execute, self._begin)
        try:
            result, commit = fn(conn, *args)
        except BaseException:
            with contextlib.suppress(Exception):  # the connection may be gone: the error says why
                raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT" if commit else "ROLLBACK")
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._stop.set()
        if self._checkpointer is not None and self._checkpointer.is_alive():
            self._checkpointer.join(timeout=5)
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            with contextlib.suppress(Exception):
                conn.close()
        self.engine.dispose()
