"""The audit trail: every decision, with never a password, a code or a secret in it."""

from __future__ import annotations

import time

from radiusd.context import Context
from radiusd.engine.types import AuthRequest, Decision
from radiusd.store.models import AuditEvent


class AuditTrail:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def record(self, request: AuthRequest, decision: Decision, latency_ms: float) -> None:
        event = {
            "at": time.time(),
            "frontdoor": request.frontdoor,
            "client": request.client,
            "source": request.source,
            "user": request.user[:255],
            "factor": decision.factor,
            "result": decision.outcome.value,
            "reason": decision.reason[:255],
            "latency_ms": latency_ms,
            "node": self.ctx.node,
        }
        await self.ctx.db.run(self._insert, event)

    def _insert(self, event: dict[str, object]) -> None:
        with self.ctx.db.session() as s, s.begin():
            s.execute(AuditEvent.__table__.insert().values(**event))

    async def close(self) -> None:
        """Flush anything pending (called on shutdown)."""
