"""WAL checkpoints that keep SQLite's log short without making logins wait for the disk.

SQLite's own automatic checkpoint runs inside whichever commit crosses its threshold, so that
login waits for the disk. The kept connections turn it off; a background thread in each worker
calls `checkpoint` once a second instead (`radiusd.store.database`).

A PASSIVE checkpoint alone is not enough under steady load. It copies what the log holds into the
database file without taking any lock, but writes go on meanwhile, so it never finds the log
fully copied, and SQLite only starts the log over (reuses the file from its beginning) after a
complete checkpoint. The log then grows without bound (a gigabyte in twenty seconds at a few
thousand logins per second), commits append to an ever longer file, and the one complete
checkpoint that must come eventually syncs everything copied so far.

So a round catches up first and finishes under the write lock:

1. PASSIVE passes, each followed by an fdatasync of the database file, until a pass finds fewer
   than `LEFT_FOR_LOCK` new frames. Neither the copy nor the sync holds a lock that a login needs,
   and each pass has only what was written during the one before.
2. A RESTART checkpoint that never waits (busy timeout 0): if no other connection is writing, it
   takes the write lock, copies the few frames left, syncs the little that is new, and starts the
   log over. Logins wait for that (0.5 to 12 ms measured) instead of for a second's pages.
   If a writer or a reader is in the way it gives up at once, and the next round tries again.

A round on an idle store is one PASSIVE call when the log is empty; a log already copied but not
yet started over (SQLite does that at the next write) costs two PASSIVE calls, an fdatasync with
nothing to write and a RESTART with nothing to copy.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass

INTERVAL = 1.0
"""Seconds between rounds."""
CATCH_UP_PASSES = 5
"""PASSIVE passes in a round at most."""
LEFT_FOR_LOCK = 200
"""New frames (pages) at which the catching up stops: what the RESTART copies under the lock."""
MAX_FRAMES = 16384
"""A log this long (64 MiB at 4 KiB pages) is restarted even if catching up did not converge: the
RESTART is then tried `OVERDUE_TRIES` times, `OVERDUE_PAUSE` seconds apart. Each try still never
waits (SQLite would wait for readers while holding the write lock); under a load that writes
without pause, one of them finds the lock free between two commits."""
OVERDUE_TRIES = 50
OVERDUE_PAUSE = 0.001
SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes of log file kept when a connection off the login path (the CLI, enrolment) starts the log
over (journal_size_limit). The login path's connections never shrink the file: it is reused
from its beginning, and truncating a large one inside a commit stalled logins for 80 ms."""


@dataclass(frozen=True, slots=True)
class Round:
    passes: int
    """PASSIVE passes run (0 when another connection was checkpointing)."""
    frames: int
    """Frames in the log when the round ended (0 once it started over)."""
    restarted: bool
    """Whether the RESTART took the write lock and completed (the log starts over)."""


def checkpoint(conn: sqlite3.Connection, db_file: int | None) -> Round:
    """One round on `conn` (autocommit, busy timeout 0, no transaction open); `db_file` is a file
    descriptor of the database file to sync between passes (None: let SQLite sync it)."""
    busy, frames, _ = _checkpoint(conn, "PASSIVE")
    if busy:  # another connection is checkpointing
        return Round(0, frames, False)
    passes, new = 1, frames
    while frames and passes < CATCH_UP_PASSES:
        if db_file is not None:
            # The pages just copied reach the disk here, not under the RESTART's write lock.
            os.fdatasync(db_file)
        before = frames
        busy, frames, _ = _checkpoint(conn, "PASSIVE")
        passes += 1
        if busy:
            return Round(passes, frames, False)
        new = frames - before
        if new < LEFT_FOR_LOCK:
            break
    if frames == 0 or (new >= LEFT_FOR_LOCK and frames < MAX_FRAMES):
        return Round(passes, frames, False)  # idle, or still catching up: the next round goes on
    tries = OVERDUE_TRIES if frames >= MAX_FRAMES else 1
    for attempt in range(tries):
        if attempt:
            time.sleep(OVERDUE_PAUSE)
        busy, frames, _ = _checkpoint(conn, "RESTART")
        if not busy:
            break
    if not busy:  # the log starts over: the next PASSIVE sees it empty
        frames = 0
    return Round(passes, frames, not busy)


def _checkpoint(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    """(busy, frames in the log, frames copied): SQLite's answer; -1 frames when not in WAL mode."""
    with contextlib.closing(conn.execute(f"PRAGMA wal_checkpoint({mode})")) as cursor:
        busy, frames, copied = cursor.fetchone()
    return int(busy), max(int(frames), 0), int(copied)
