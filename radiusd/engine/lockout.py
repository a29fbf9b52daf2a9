"""Brute-force protection kept in the store, so every worker and node sees the same counts.

The model (docs/rules.md explains why it cannot be turned into a denial of service):

- Every wrong password or code adds a failure event for the user and for the source address.
- A source with `source_threshold` failures in the sliding window is blocked for `lock_duration`;
  each repeated block of the same key within a day doubles it, up to `max_lock_duration`.
  Addresses listed in `shared_sources` are counted and blocked per user at that address.
- Only with `lock_user` does the user get locked, after `user_threshold` failures from anywhere,
  and source_threshold < user_threshold, so one address is blocked long before it can lock a user.
- After `delay_after` failures the wrong answer is held back progressively (up to `max_delay`).
- Locks set by an admin are separate rows (set_by="admin") that automatic locking never touches.
- The gate is one indexed query on the locks table; counting happens only on failures.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from radiusd.config.engine import LockoutConfig
from radiusd.context import Context
from radiusd.engine.rules import address_text, ipv4_octets, parse_address
from radiusd.store import auth
from radiusd.store.models import Lock, RateEvent

log = logging.getLogger(__name__)

FAIL_USER, FAIL_SOURCE = auth.FAIL_USER, "fail:source"
LOCKED_USER, LOCKED_SOURCE = "lock:user", "lock:source"
ESCALATION_WINDOW = 86400.0
"""Repeated locks of one key within this many seconds double the lock's duration."""
PRUNE_INTERVAL = 60.0
KEY_MAX = 255


def store_key(text: str) -> str:
    """A key the store accepts whatever the input: no NUL, no lone surrogate, at most 255 chars."""
    if len(text) <= KEY_MAX and text.isascii() and "\x00" not in text:
        return text  # the usual case: nothing to change
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    if len(safe) <= KEY_MAX:
        return safe
    return safe[:190] + "#" + hashlib.sha256(safe.encode()).hexdigest()


def source_key(source: str | None, user: str, settings: LockoutConfig) -> str | None:
    """The key failures from this source count against: the address, or address+user if shared."""
    if not source:
        return None
    key, shared = _source_form(source, tuple(settings.shared_sources))
    return store_key(f"{key} {user}") if shared else key


@functools.lru_cache(maxsize=4096)
def _source_form(source: str, shared_sources: tuple[str, ...]) -> tuple[str, bool]:
    # Remembered: every login needs it several times (one key per rule's lockout settings, then
    # the gate). A dotted quad, the usual source, is keyed and matched as octets and integers,
    # without ipaddress objects (tests check both ways agree with ipaddress).
    octets = ipv4_octets(source)
    if octets is not None:
        value = int.from_bytes(octets, "big")
        shared = any(value & mask == network for network, mask in _ipv4_networks(shared_sources))
        return socket.inet_ntoa(octets), shared
    addr = parse_address(source)
    if addr is None:
        return store_key(source), False
    return address_text(addr), any(addr in net for net in _networks(shared_sources))


@functools.lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net) for net in entries)


@functools.lru_cache(maxsize=64)
def _ipv4_networks(entries: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """The IPv4 networks among the entries as (network, mask) integers (an IPv4 address is in no
    IPv6 network, IPv4-mapped ones included, as ipaddress has it)."""
    return tuple(
        (int(net.network_address), int(net.netmask))
        for net in _networks(entries)
        if isinstance(net, ipaddress.IPv4Network)
    )


def delay_for(failures: int, settings: LockoutConfig) -> float:
    """Seconds to hold back the answer to the n-th failure: doubling from 1/8 s after delay_after."""
    step = failures - settings.delay_after
    if step <= 0 or settings.max_delay <= 0:
        return 0.0
    return min(settings.max_delay, 0.125 * 2 ** min(step - 1, 32))


@dataclass(frozen=True, slots=True)
class Counts:
    user: int
    source: int
    locked_user: bool
    locked_source: bool


# The statements of the gate and of the counting, built once (Core, on a kept connection).
_GATE = select(Lock.scope, Lock.set_by).where(
    or_(
        and_(Lock.scope == "user", Lock.key == bindparam("user_key")),
        and_(Lock.scope == "source", Lock.key == bindparam("src_key")),
    ),
    or_(Lock.until.is_(None), Lock.until > bindparam("now")),
)
# A failure's two events in one statement (one row when there is no source), then both counts in
# one statement. Each count stops at `cap`: past the highest threshold and the point where the
# delay stops growing, a larger count changes nothing, so an attacked key costs no more to count.
_ADD_USER_EVENT = insert(RateEvent).values(kind=FAIL_USER, key=bindparam("user_key"), at=bindparam("now"))
_ADD_EVENTS = insert(RateEvent).values(
    [
        {"kind": FAIL_USER, "key": bindparam("user_key"), "at": bindparam("now")},
        {"kind": FAIL_SOURCE, "key": bindparam("src_key"), "at": bindparam("now")},
    ]
)


def _count_since(kind: str, key: str) -> Any:
    capped = (
        select(literal(1).label("one"))
        .where(RateEvent.kind == kind, RateEvent.key == bindparam(key), RateEvent.at > bindparam("since"))
        .limit(bindparam("cap"))
        .subquery()
    )
    return select(func.count()).select_from(capped).scalar_subquery()


_COUNTS = select(
    _count_since(FAIL_USER, "user_key").label("user"), _count_since(FAIL_SOURCE, "src_key").label("source")
)
# On SQLite the same statements run on the sqlite3 connection itself (compiled once from the above;
# tests/lockout check them against Core).
_RAW_ADD_USER_EVENT = auth.RawStatement(_ADD_USER_EVENT)
_RAW_ADD_EVENTS = auth.RawStatement(_ADD_EVENTS)
_RAW_COUNTS = auth.RawStatement(_COUNTS)


def count_cap(settings: LockoutConfig) -> int:
    """The count past which nothing changes: the thresholds that lock, and the failure at which
    the progressive delay reaches max_delay."""
    return _count_cap(
        settings.source_threshold,
        settings.user_threshold if settings.lock_user else 1,
        settings.delay_after,
        settings.max_delay,
    )


@functools.lru_cache(maxsize=64)
def _count_cap(source_threshold: int, user_threshold: int, delay_after: int, max_delay: float) -> int:
    cap = max(source_threshold, user_threshold)
    if max_delay > 0:
        # delay_for's doubling: 1/8 s at delay_after + 1, reaching max_delay (or its 2**32 cap).
        n = delay_after + 1
        while n - delay_after <= 33 and min(max_delay, 0.125 * 2 ** min(n - delay_after - 1, 32)) < max_delay:
            n += 1
        cap = max(cap, n)
    return cap


def _dialect_insert(session: Session | Connection):  # type: ignore[no-untyped-def]
    bind = session if isinstance(session, Connection) else session.get_bind()
    return sqlite.insert if bind.dialect.name == "sqlite" else postgresql.insert


def refusal(rows: Iterable[tuple[str, str]]) -> str | None:
    """The reason an attempt is refused given the active (scope, set_by) locks that apply to it."""
    found = list(rows)
    if not found:
        return None
    # The most telling reason: a user lock before a source lock, an admin's before an automatic one.
    scope, set_by = min(found, key=lambda r: (r[0] != "user", r[1] != "admin"))
    return f"{scope} locked by admin" if set_by == "admin" else f"{scope} locked: too many failures"


def lock(
    session: Session | Connection,
    scope: str,
    key: str,
    set_by: str,
    until: float | None,
    reason: str,
    now: float,
) -> bool:
    """Create or renew a lock; an automatic lock is renewed only once the old one has expired.

    One conditional statement (upsert), so nodes racing to lock the same key cannot lose a lock
    or escalate twice. Returns whether a lock was written."""
    ins = _dialect_insert(session)(Lock.__table__).values(
        scope=scope, key=store_key(key), set_by=set_by, reason=reason[:255], created_at=now, until=until
    )
    stmt = ins.on_conflict_do_update(
        index_elements=["scope", "key", "set_by"],
        set_={
            "until": ins.excluded.until,
            "reason": ins.excluded.reason,
            "created_at": ins.excluded.created_at,
        },
        where=(Lock.until <= now) if set_by == "auto" else None,
    )
    # RETURNING yields a row only when the row was inserted or the condition let it update.
    return session.execute(stmt.returning(Lock.__table__.c.id)).first() is not None


def _auto_lock(
    session: Session | Connection, scope: str, key: str, settings: LockoutConfig, now: float
) -> bool:
    kind = LOCKED_USER if scope == "user" else LOCKED_SOURCE
    earlier = session.scalar(
        select(func.count())
        .select_from(RateEvent)
        .where(RateEvent.kind == kind, RateEvent.key == key, RateEvent.at > now - ESCALATION_WINDOW)
    )
    duration = min(settings.max_lock_duration, settings.lock_duration * 2 ** min(earlier or 0, 32))
    if not lock(session, scope, key, "auto", now + duration, "too many failures", now):
        return False
    session.execute(insert(RateEvent).values(kind=kind, key=key, at=now))
    return True


def active_locks(session: Session, now: float) -> list[Lock]:
    return list(
        session.scalars(
            select(Lock).where(or_(Lock.until.is_(None), Lock.until > now)).order_by(Lock.scope, Lock.key)
        )
    )


def clear(session: Session, target: str) -> int:
    """Remove every lock, failure count and escalation history for a user or an address.

    An address also clears its per-user keys (shared sources). Returns the number of locks removed."""
    addr = parse_address(target)
    if addr is None:
        user_key = store_key(target)
        lock_cond = and_(Lock.scope == "user", Lock.key == user_key)
        event_cond = and_(RateEvent.kind.in_((FAIL_USER, LOCKED_USER)), RateEvent.key == user_key)
    else:
        prefix = f"{addr} "
        lock_cond = and_(
            Lock.scope == "source", or_(Lock.key == str(addr), Lock.key.startswith(prefix, autoescape=True))
        )
        event_cond = and_(
            RateEvent.kind.in_((FAIL_SOURCE, LOCKED_SOURCE)),
            or_(RateEvent.key == str(addr), RateEvent.key.startswith(prefix, autoescape=True)),
        )
    removed = session.execute(delete(Lock).where(lock_cond)).rowcount
    session.execute(delete(RateEvent).where(event_cond))
    return int(removed or 0)


class Lockout:
    def __init__(
        self,
        ctx: Context,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self._sleep = sleep
        self._clock = clock
        cfg = ctx.config
        windows = [cfg.lockout.window] + [r.lockout.window for r in cfg.rules if r.lockout is not None]
        self._all_settings = [cfg.lockout] + [r.lockout for r in cfg.rules if r.lockout is not None]
        self._keep_events = max(windows)
        self._last_prune = 0.0
        self._prune_task: asyncio.Task[None] | None = None

    async def gate(self, user: str, source: str | None, settings: LockoutConfig) -> str | None:
        """The reason this attempt is refused before any secret is checked, or None to go on."""
        return await self.ctx.db.read_async(
            self._read_gate, store_key(user), source_key(source, user, settings), self._clock()
        )

    @staticmethod
    def _read_gate(conn: Connection, user_key: str, src_key: str | None, now: float) -> str | None:
        rows = conn.execute(_GATE, {"user_key": user_key, "src_key": src_key, "now": now}).all()
        return refusal((r.scope, r.set_by) for r in rows)

    def now(self) -> float:
        return self._clock()

    def keys(self, user: str, source: str | None) -> tuple[str, tuple[str | None, ...]]:
        """The user's key and every key the source may count against (whichever rule matches):
        the gate's locks are read with the user, before the rule is known."""
        sources = tuple(dict.fromkeys(source_key(source, user, s) for s in self._all_settings))
        return store_key(user), sources

    @staticmethod
    def refused(
        locks: Iterable[auth.LockRow], user: str, source: str | None, settings: LockoutConfig
    ) -> str | None:
        """The gate on locks read beforehand (`auth.load_login`): those of the user's key and of
        the source key that these settings count against."""
        user_key, src_key = store_key(user), source_key(source, user, settings)
        return refusal(
            (row.scope, row.set_by)
            for row in locks
            if (row.scope == "user" and row.key == user_key)
            or (row.scope == "source" and src_key is not None and row.key == src_key)
        )

    async def failure(self, user: str, source: str | None, settings: LockoutConfig) -> None:
        """Count a failed attempt (wrong password or wrong code), lock if a threshold is reached,
        then hold the answer back progressively."""
        counts = await self.ctx.db.write_async(
            self.count_failure, store_key(user), source_key(source, user, settings), settings, self._clock()
        )
        if counts.locked_source or counts.locked_user:
            log.warning(
                "lockout: %s locked after repeated failures",
                "user and source"
                if counts.locked_source and counts.locked_user
                else "user"
                if counts.locked_user
                else "source",
            )
        self._maybe_prune()
        delay = delay_for(max(counts.user, counts.source), settings)
        if delay:
            await self._sleep(delay)

    @staticmethod
    def count_failure(
        conn: Connection, user_key: str, src_key: str | None, settings: LockoutConfig, now: float
    ) -> tuple[Counts, bool]:
        """Both events and both counts in two statements (Counts holds them up to `count_cap`);
        then the source's lock before the user's."""
        params = {
            "user_key": user_key,
            "src_key": src_key,
            "now": now,
            "since": now - settings.window,
            "cap": count_cap(settings),
        }
        (_RAW_ADD_USER_EVENT if src_key is None else _RAW_ADD_EVENTS).execute(conn, params)
        n_user, n_source = _RAW_COUNTS.execute(conn, params).fetchone()
        locked_source = (
            src_key is not None
            and n_source >= settings.source_threshold
            and _auto_lock(conn, "source", src_key, settings, now)
        )
        locked_user = (
            settings.lock_user
            and n_user >= settings.user_threshold
            and _auto_lock(conn, "user", user_key, settings, now)
        )
        return Counts(n_user, n_source, bool(locked_user), bool(locked_source)), True

    async def success(self, user: str, source: str | None) -> None:
        """A successful login: the user proved who they are, so their own failure count restarts.
        The address's count stays: a valid account must not reset an address spraying others."""
        await self.ctx.db.write_async(self.clear_failures, store_key(user))

    @staticmethod
    def clear_failures(conn: Connection, user_key: str) -> tuple[None, bool]:
        auth.RAW_CLEAR_FAILURES.rowcount(conn, {"user_key": user_key})
        return None, True

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < PRUNE_INTERVAL or (self._prune_task and not self._prune_task.done()):
            return
        self._last_prune = now
        self._prune_task = asyncio.get_running_loop().create_task(self.prune())

    async def prune(self) -> None:
        """Delete failure events older than any window, old escalation history and expired locks."""
        try:
            await self.ctx.db.run(self._prune, self._clock())
        except Exception:
            log.exception("lockout: pruning old rate events failed; will retry")

    def _prune(self, now: float) -> None:
        with self.ctx.db.session() as s, s.begin():
            s.execute(
                delete(RateEvent).where(
                    RateEvent.kind.in_((FAIL_USER, FAIL_SOURCE)), RateEvent.at < now - self._keep_events
                )
            )
            s.execute(
                delete(RateEvent).where(
                    RateEvent.kind.in_((LOCKED_USER, LOCKED_SOURCE)), RateEvent.at < now - ESCALATION_WINDOW
                )
            )
            s.execute(delete(Lock).where(Lock.until.is_not(None), Lock.until < now))

    async def close(self) -> None:
        if self._prune_task is not None:
            await asyncio.wait_for(self._prune_task, timeout=10)
