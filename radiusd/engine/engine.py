"""The engine: the only place that decides.

    AuthRequest
      → policy (which rule: require / skip / deny, which factors)
      → gate (lockout and rate limits, before any secret is checked)
      → first factor (the user's password backend)
      → second factor (verify the code, or start a challenge)
      → record (audit, failure counters)
    Decision

Placeholder body: local password only. The factor path replaces it.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from radiusd.context import Context
from radiusd.engine.audit import AuditTrail
from radiusd.engine.lockout import Lockout
from radiusd.engine.rules import Policy
from radiusd.engine.types import AuthRequest, Decision
from radiusd.store.models import User


class Engine:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.policy = Policy(cfg.rules, cfg.challenge, cfg.lockout)
        self.lockout = Lockout(ctx)
        self.audit = AuditTrail(ctx)

    async def authenticate(self, request: AuthRequest) -> Decision:
        started = time.perf_counter()
        decision = await self._decide(request)
        await self.audit.record(request, decision, (time.perf_counter() - started) * 1000)
        return decision

    async def _decide(self, request: AuthRequest) -> Decision:
        row = await self.ctx.db.run(self._load_user, request.user)
        hashing = self.ctx.passwords
        ok = await self.ctx.db.run(hashing.verify, row[1] if row else None, request.secret)
        if row and row[0] and ok:
            return Decision.accept("password ok", factor="password")
        return Decision.reject("bad credentials")

    def _load_user(self, name: str) -> tuple[bool, str | None] | None:
        with self.ctx.db.session() as s:
            user = s.scalars(select(User).where(User.name == name)).first()
            return (user.enabled, user.password_hash) if user else None

    async def close(self) -> None:
        await self.audit.close()
