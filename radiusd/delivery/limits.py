"""Abuse limits on sent codes: at most N per user and per source address in a sliding hour.

Counted in the store (rate_events), so every worker and node shares the count. Each code allowed
is one event per key (allowed, not delivered: a code that then fails to send still counts).

Two logins at the same instant must not both see N-1 and both insert. A count is no row to lock,
so each key is first serialised, then counted and inserted in one transaction:
- SQLite: the transaction opens with a write (the DELETE of old events), which takes the
  database's single write lock until commit; every other writer waits (busy_timeout).
- PostgreSQL: `pg_advisory_xact_lock` on a 64-bit hash of (kind, key), taken for the user's key
  before the source's (always that order, so two logins cannot deadlock) and released at commit;
  under READ COMMITTED the count that follows sees every event committed before the lock was got.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from radiusd.store.database import Database
from radiusd.store.models import RateEvent

WINDOW = 3600.0
KIND_USER = "code_user"
KIND_SOURCE = "code_source"


def lock_id(kind: str, key: str) -> int:
    """A signed 64-bit advisory lock number for one counted key."""
    digest = hashlib.sha256(f"radiusd.limits\0{kind}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _serialise(s: Session, kind: str, key: str) -> None:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(kind, key)})


def take_code_allowance(
    db: Database, user: str, source: str | None, per_user: int, per_source: int, now: float
) -> str | None:
    """Count one code for the user (and the source); the reason for a refusal, or None if allowed."""
    keys = [(KIND_USER, user[:255], per_user)] + ([(KIND_SOURCE, source[:255], per_source)] if source else [])
    with db.session() as s, s.begin():
        s.execute(
            delete(RateEvent).where(RateEvent.kind.in_([KIND_USER, KIND_SOURCE]), RateEvent.at < now - WINDOW)
        )
        for kind, key, _ in keys:
            _serialise(s, kind, key)
        for kind, key, limit in keys:
            sent = s.scalar(
                select(func.count())
                .select_from(RateEvent)
                .where(RateEvent.kind == kind, RateEvent.key == key, RateEvent.at > now - WINDOW)
            )
            if (sent or 0) >= limit:
                scope = "this user" if kind == KIND_USER else f"source {key}"
                return f"code limit reached: {limit} per hour for {scope}"
        s.execute(insert(RateEvent), [{"kind": kind, "key": key, "at": now} for kind, key, _ in keys])
    return None
