"""The audit trail: every decision, with never a password, a code or a secret in it.

`record` only appends to a list: it runs for every login, so it must cost next to nothing. A
background task writes the list every `flush_interval` or once `batch_size` decisions wait (on
SQLite at most ROWS_PER_WRITE rows per INSERT, each joining the logins' own next transaction),
then copies them to the optional JSON-lines file and syslog. `close` writes everything still
waiting; the server calls it on shutdown (SIGTERM included). When the store is unreachable the
batch is kept and retried, so nothing is lost short of a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import logging.handlers
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from radiusd.config.engine import syslog_target
from radiusd.context import Context
from radiusd.engine.types import AuthRequest, Decision
from radiusd.store.auth import RawStatement
from radiusd.store.models import AuditEvent

log = logging.getLogger(__name__)

ROWS_PER_WRITE = 16
"""Decisions per INSERT on SQLite, each joining the logins' next transaction. There the INSERT
runs on the event loop and holds the store's one write lock, which the other workers wait for:
200 rows at once (the decisions of one flush interval at 1,000 logins/s) held both for 2 to 3 ms,
often enough to set the p99 of a loaded server; 16 rows hold them for about 0.3 ms. On
PostgreSQL a batch goes to a store thread and locks nothing shared, so it stays whole."""
MAX_PENDING = 100_000
"""Decisions kept in memory while the store is unreachable; beyond this the oldest are dropped."""
RETENTION_CHECK = 3600.0

# Built once; executed on the hot path's kept connection (executemany) by the driver itself
# (auth.RawStatement).
_COLUMNS = ("at", "frontdoor", "client", "source", "user", "factor", "result", "reason", "latency_ms", "node")
_INSERT = insert(AuditEvent).values({c: bindparam(c) for c in _COLUMNS})
_RAW_INSERT = RawStatement(_INSERT)
_EXPIRE = delete(AuditEvent).where(AuditEvent.at < bindparam("before"))


def clean(value: object, limit: int) -> str:
    """Text the store accepts whatever came in: no NUL, no lone surrogate, cut to the column."""
    if type(value) is str and len(value) <= limit and value.isascii() and "\x00" not in value:
        return value  # the usual case, seven times per decision: nothing to change
    text = "" if value is None else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text[:limit]


def iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AuditTrail:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.config = ctx.config.audit
        self._pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._syslog: logging.Handler | None = None
        self._last_retention = 0.0

    async def record(self, request: AuthRequest, decision: Decision, latency_ms: float) -> None:
        self._pending.append(
            {
                "at": time.time(),
                "frontdoor": clean(request.frontdoor, 16),
                "client": clean(request.client, 255),
                "source": clean(request.source, 64) if request.source is not None else None,
                "user": clean(request.user, 255),
                "factor": clean(decision.factor, 16),
                "result": decision.outcome.value,
                "reason": clean(decision.reason, 255),
                "latency_ms": round(float(latency_ms), 3),
                "node": clean(self.ctx.node, 64),
            }
        )
        if len(self._pending) > MAX_PENDING:
            del self._pending[: len(self._pending) - MAX_PENDING]
            log.error("audit: the store has been unreachable too long; oldest decisions dropped")
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._flusher())
        if len(self._pending) >= self.config.batch_size:
            self._wake.set()

    async def _flusher(self) -> None:
        backoff = self.config.flush_interval
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            backoff = self.config.flush_interval if await self.flush() else min(backoff * 2, 30.0)

    async def flush(self) -> bool:
        """Write what is waiting; False (and the batch kept) if the store refused it."""
        size = (
            min(self.config.batch_size, ROWS_PER_WRITE) if self.ctx.db.is_sqlite else self.config.batch_size
        )
        while self._pending:
            waiting, self._pending = self._pending, []  # decisions made meanwhile queue anew
            for first in range(0, len(waiting), size):
                try:
                    await self._write(waiting[first : first + size])
                except Exception as exc:
                    self._pending[:0] = waiting[first:]
                    log.error(
                        "audit: writing %d decisions failed (%s); will retry",
                        len(waiting) - first,
                        type(exc).__name__,
                    )
                    return False
        return True

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        now = time.time()
        expire = now - self._last_retention > RETENTION_CHECK
        before = now - self.config.retention_days * 86400 if expire else None
        # In the store's next transaction, with the logins' own writes (group commit on SQLite).
        await self.ctx.db.write_async(self._insert, batch, before)
        if expire:
            self._last_retention = now
        if self.config.jsonl_file is not None or self.config.syslog:
            await self.ctx.db.run(self._export, batch)

    def _export(self, batch: list[dict[str, Any]]) -> None:
        """The batch as JSON lines to the file and syslog (blocking: run off the loop)."""
        lines = [json.dumps({**e, "at": iso(e["at"])}, ensure_ascii=False) for e in batch]
        self._to_file(lines)
        self._to_syslog(lines)

    @staticmethod
    def _insert(
        conn: Connection, batch: list[dict[str, Any]], expire_before: float | None
    ) -> tuple[None, bool]:
        _RAW_INSERT.executemany(conn, batch)
        if expire_before is not None:
            conn.execute(_EXPIRE, {"before": expire_before})
        return None, True

    def _to_file(self, lines: list[str]) -> None:
        if self.config.jsonl_file is None:
            return
        try:
            # Opened per batch so that log rotation (rename, then a new file) needs no signal.
            with open(self.config.jsonl_file, "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            log.error("audit: cannot append to %s: %s", self.config.jsonl_file, exc.strerror)

    def _to_syslog(self, lines: list[str]) -> None:
        if not self.config.syslog:
            return
        try:
            if self._syslog is None:
                handler = logging.handlers.SysLogHandler(
                    address=syslog_target(self.config.syslog_address),
                    facility=self.config.syslog_facility,
                )
                handler.ident = "radiusd-audit: "
                self._syslog = handler
            for line in lines:
                self._syslog.emit(
                    logging.makeLogRecord({"msg": line, "levelno": logging.INFO, "levelname": "INFO"})
                )
        except OSError as exc:
            self._syslog = None
            log.error("audit: syslog at %s unreachable: %s", self.config.syslog_address, exc.strerror)

    async def close(self) -> None:
        """Flush anything pending (called on shutdown); nothing recorded before is lost."""
        self._closing = True
        if self._task is not None:
            self._wake.set()
            await self._task
            self._task = None
        for _ in range(5):
            if await self.flush():
                break
            await asyncio.sleep(0.5)
        if self._syslog is not None:
            self._syslog.close()
            self._syslog = None


def search(
    session: Session,
    user: str | None = None,
    since: float | None = None,
    result: str | None = None,
    frontdoor: str | None = None,
    limit: int = 50,
) -> Sequence[AuditEvent]:
    """The newest decisions first, filtered; for `radiusd audit list`."""
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if user is not None:
        query = query.where(AuditEvent.user == user)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if result is not None:
        query = query.where(AuditEvent.result == result)
    if frontdoor is not None:
        query = query.where(AuditEvent.frontdoor == frontdoor)
    return session.scalars(query).all()
