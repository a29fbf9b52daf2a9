"""Open challenges, kept in the store so that any worker or node can take the answer.

The state handed to the front door is the challenge's primary key: 24 random bytes, URL-safe
base64 (32 characters), so it cannot be guessed and carries nothing but a reference. The row
records the first factor as passed, the rule that applied and the prompt; the answer is counted
against `max_attempts` by a conditional UPDATE and closed together with the code it consumes.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from radiusd.config.engine import ChallengeSettings
from radiusd.context import Context
from radiusd.engine.types import AuthRequest
from radiusd.factors.base import ChallengeRecord, UserRecord
from radiusd.store import auth

_STATE = re.compile(r"[A-Za-z0-9_-]{32}")


def parse_state(raw: bytes) -> str | None:
    """The challenge id in a state sent back by a client, or None if it cannot be one of ours."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if _STATE.fullmatch(text) else None


class Challenges:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def open(
        self,
        request: AuthRequest,
        user: UserRecord,
        settings: ChallengeSettings,
        *,
        factor: str,
        token_id: int | None,
        code_hash: str | None,
        context: Mapping[str, Any],
    ) -> bytes:
        """Store a new challenge and return its state."""
        state = secrets.token_urlsafe(24)
        await self.ctx.db.run(
            lambda: auth.create_challenge(
                self.ctx.db,
                state=state,
                user_id=user.id,
                token_id=token_id,
                factor=factor,
                code_hash=code_hash,
                client=request.client,
                source=request.source,
                context=context,
                now=time.time(),
                validity=settings.validity,
                max_attempts=settings.attempts,
            )
        )
        return state.encode("ascii")

    async def take(self, request: AuthRequest) -> tuple[ChallengeRecord, UserRecord] | None:
        """Count this answer against its challenge; None if the state is not an open challenge of
        this user from this client."""
        state = parse_state(request.state or b"")
        if state is None:
            return None
        return await self.ctx.db.run(
            auth.take_challenge, self.ctx.db, state, request.user, request.client, time.time()
        )
