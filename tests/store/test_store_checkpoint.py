"""WAL checkpoint rounds (radiusd.store.checkpoint): under steady writes the log starts over
instead of growing, nothing written is lost, and a round never waits for another writer."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from radiusd.store import checkpoint
from radiusd.store.database import Database


def _connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # as radiusd's kept connections
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    conn = _connect(path, 1000)
    conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, n INTEGER, pad TEXT)")
    conn.execute("CREATE INDEX rows_n ON rows (n)")
    conn.close()
    return path


def _frames(path: Path) -> int:
    """Frames in the log now, as a PASSIVE checkpoint from another connection reports them."""
    conn = _connect(path, 0)
    try:
        return checkpoint._checkpoint(conn, "PASSIVE")[1]
    finally:
        conn.close()


class Writer(threading.Thread):
    """Commits of 20 rows, `pause` seconds apart, as a busy worker's group commits."""

    def __init__(self, path: Path, pause: float) -> None:
        super().__init__()
        self.path, self.pause = path, pause
        self.written = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = _connect(self.path, 5000)
        while not self.stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            rows = [((self.written * 7 + i) % 997, "x" * 300) for i in range(20)]
            conn.executemany("INSERT INTO rows (n, pad) VALUES (?, ?)", rows)
            conn.execute("COMMIT")
            self.written += 20
            time.sleep(self.pause)
        conn.close()

    def wait_for(self, rows: int) -> None:
        target = self.written + rows
        while self.written < target:
            time.sleep(0.001)


def test_the_log_starts_over_under_steady_writes_and_nothing_is_lost(tmp_path: Path) -> None:
    path = _store(tmp_path)
    writer = Writer(path, pause=0.0002)  # between group commits the write lock is free
    writer.start()
    conn = _connect(path, 0)
    db_file = os.open(path, os.O_RDONLY)
    rounds = []
    shrank = 0  # restarted rounds after which the log held fewer frames than before the round
    try:
        while len(rounds) < 200 and sum(r.restarted for r in rounds) < 3:
            writer.wait_for(400)  # a round's worth of commits between rounds
            before = _frames(path)
            rounds.append(checkpoint.checkpoint(conn, db_file))
            if rounds[-1].restarted:  # the writer's next commit starts the log over
                writer.wait_for(40)
                shrank += _frames(path) < before
    finally:
        writer.stop.set()
        writer.join()
        os.close(db_file)
    restarts = [r for r in rounds if r.restarted]
    assert len(restarts) >= 3, rounds
    assert all(r.frames == 0 for r in restarts)
    assert shrank >= 1  # without a real restart the log only grows while the writer goes on
    count, integrity = conn.execute(
        "SELECT (SELECT count(*) FROM rows), (SELECT integrity_check FROM pragma_integrity_check)"
    ).fetchone()
    assert (count, integrity) == (writer.written, "ok")
    conn.close()


def test_an_idle_store_takes_one_pass_and_an_idle_log_starts_over(tmp_path: Path) -> None:
    path = _store(tmp_path)
    conn = _connect(path, 0)
    assert checkpoint.checkpoint(conn, None) == checkpoint.Round(passes=1, frames=0, restarted=False)
    conn.executemany("INSERT INTO rows (n, pad) VALUES (?, ?)", [(n, "x" * 500) for n in range(200)])
    before = _frames(path)
    assert before > 20
    assert checkpoint.checkpoint(conn, None).restarted
    conn.execute("INSERT INTO rows (n, pad) VALUES (1000, 'a')")  # the next write starts the log over
    assert _frames(path) < 5
    assert conn.execute("SELECT count(*), max(n) FROM rows").fetchone() == (201, 1000)
    conn.close()


def test_a_round_never_waits_for_a_writer(tmp_path: Path) -> None:
    path = _store(tmp_path)
    writer = _connect(path, 0)
    writer.execute("INSERT INTO rows (n, pad) VALUES (1, 'a')")
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock through the round
    writer.execute("INSERT INTO rows (n, pad) VALUES (2, 'b')")
    conn = _connect(path, 0)  # busy timeout 0, as the checkpoint thread's connection
    result = checkpoint.checkpoint(conn, None)
    assert not result.restarted and result.frames > 0
    writer.execute("COMMIT")
    assert checkpoint.checkpoint(conn, None).restarted
    assert [n for (n,) in conn.execute("SELECT n FROM rows ORDER BY n")] == [1, 2]
    conn.close()
    writer.close()


def test_an_overdue_log_is_restarted_even_when_writes_never_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "LEFT_FOR_LOCK", 0)  # catching up never converges
    monkeypatch.setattr(checkpoint, "MAX_FRAMES", 300)
    path = _store(tmp_path)
    writer = Writer(path, pause=0)  # the write lock is free only between COMMIT and BEGIN
    writer.start()
    conn = _connect(path, 0)
    try:
        rounds = []
        while len(rounds) < 50 and not any(r.restarted for r in rounds):
            writer.wait_for(400)
            rounds.append(checkpoint.checkpoint(conn, None))
    finally:
        writer.stop.set()
        writer.join()
    assert any(r.restarted for r in rounds), rounds
    assert conn.execute("SELECT count(*) FROM rows").fetchone() == (writer.written,)
    conn.close()


def test_only_connections_off_the_login_path_shrink_the_log_file(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'radiusd.db'}")
    try:
        login_path = db.connection()
        assert login_path.exec_driver_sql("PRAGMA journal_size_limit").scalar() == -1
        with db.session() as session:
            limit = session.connection().exec_driver_sql("PRAGMA journal_size_limit").scalar()
        assert limit == checkpoint.SIZE_LIMIT
    finally:
        db.close()


def test_the_database_checkpoint_thread_keeps_the_log_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring: `Database`'s own thread runs the rounds (every 20 ms here) while logins write
    on its kept connection, and the log starts over again and again."""
    monkeypatch.setattr(checkpoint, "INTERVAL", 0.02)
    path = tmp_path / "radiusd.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.write(lambda conn: (conn.exec_driver_sql("CREATE TABLE rows (n INTEGER, pad TEXT)"), True))
        insert = "INSERT INTO rows VALUES (?, ?)"
        for n in range(600):
            db.write(lambda conn, n=n: (conn.exec_driver_sql(insert, (n, "x" * 2000)), True))
            if n % 50 == 49:
                time.sleep(0.03)  # a round runs
        # Each batch of 50 rows adds about 100 pages. The log file never shrinks on the login path
        # and is reused from its start once the log starts over: it ends near one batch's size
        # (some 400 KB), where a log that never started over would hold all 600 rows (some 5 MB).
        assert os.path.getsize(f"{path}-wal") < 200 * 4096
        assert db.connection().exec_driver_sql("SELECT count(*) FROM rows").scalar() == 600
    finally:
        db.close()
