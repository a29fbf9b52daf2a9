"""Abuse limits on sent codes: at most N per user and per source address in a sliding hour.

Counted in the store (rate_events), so every worker and node shares the count. Each code sent is
one event per key; the check and the insert share a transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from radiusd.store.database import Database
from radiusd.store.models import RateEvent

WINDOW = 3600.0
KIND_USER = "code_user"
KIND_SOURCE = "code_source"


def take_code_allowance(
    db: Database, user: str, source: str | None, per_user: int, per_source: int, now: float
) -> str | None:
    """Count one code for the user (and the source); the reason for a refusal, or None if allowed."""
    keys = [(KIND_USER, user, per_user)] + ([(KIND_SOURCE, source, per_source)] if source else [])
    with db.session() as s, s.begin():
        s.execute(
            delete(RateEvent).where(RateEvent.kind.in_([KIND_USER, KIND_SOURCE]), RateEvent.at < now - WINDOW)
        )
        for kind, key, limit in keys:
            sent = s.scalar(
                select(func.count())
                .select_from(RateEvent)
                .where(RateEvent.kind == kind, RateEvent.key == key, RateEvent.at > now - WINDOW)
            )
            if (sent or 0) >= limit:
                scope = "this user" if kind == KIND_USER else f"source {key}"
                return f"code limit reached: {limit} per hour for {scope}"
        s.execute(insert(RateEvent), [{"kind": kind, "key": key[:255], "at": now} for kind, key, _ in keys])
    return None
