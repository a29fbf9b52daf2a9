"""What email and SMS codes share: open a challenge by sending a fresh code, check the answer.

At login (the password already right): reuse an open challenge of the same token and client if
there is one (no new code: a user pressing "login" again cannot mint unlimited codes or reset the
attempt count), else count the code against the per-user and per-source hourly limits, draw it
from `secrets`, send it, and keep only its keyed hash in the challenge (`hash_code`: HMAC-SHA256
under a key derived from the key ring, bound to the user, the token and a random nonce kept in the
challenge's context). The answer is compared in constant time; the engine closes the challenge
with a conditional UPDATE, so a code is used once.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import select

from radiusd.delivery.limits import take_code_allowance
from radiusd.delivery.message import CodeMessage, DeliveryError, Sender
from radiusd.factors.base import (
    ChallengeRecord,
    ChallengeStart,
    Factor,
    FactorError,
    Match,
    TokenRecord,
    UserRecord,
    code_hash_matches,
    code_identity,
    hash_code,
)
from radiusd.store.database import Database
from radiusd.store.models import Challenge

if TYPE_CHECKING:
    from radiusd.config.delivery import DeliveryConfig
    from radiusd.config.engine import ChallengeSettings, EngineConfig
    from radiusd.context import Context
    from radiusd.crypto.keyring import Keyring
    from radiusd.engine.types import AuthRequest

CANNOT_SEND = "The code could not be sent"
TOO_MANY = "Too many codes requested, try again later"
REUSE_MIN_LEFT = 30.0
"""An open challenge is reused only while it has this many seconds left to type the code in."""
NONCE = "code_nonce"
"""Key in the challenge's context of the nonce its code hash is bound to (not a secret)."""
PROMPT_WIDTH = 80
"""Reply-Message shown by pam_radius_auth and most VPN clients: one line of printable ASCII."""


def new_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def find_open(db: Database, user_id: int, token_id: int, client: str, now: float) -> tuple[str, str] | None:
    """(state, prompt) of a challenge of this token still open for a while, or None."""
    with db.session() as s:
        row = s.execute(
            select(Challenge.id, Challenge.context)
            .where(
                Challenge.user_id == user_id,
                Challenge.token_id == token_id,
                Challenge.client == client,
                Challenge.done_at.is_(None),
                Challenge.expires_at > now + REUSE_MIN_LEFT,
                Challenge.attempts < Challenge.max_attempts,
            )
            .order_by(Challenge.created_at.desc())
            .limit(1)
        ).first()
    return (row.id, str((row.context or {}).get("prompt", ""))) if row else None


class SentCodeFactor(Factor):
    """Base of the email and SMS factors; subclasses say where the code goes and how."""

    channel: ClassVar[str]

    def __init__(self, engine: EngineConfig) -> None:
        super().__init__(engine)
        self._senders: dict[int, Sender | None] = {}

    def destination(self, user: UserRecord, token: TokenRecord) -> str | None:
        raise NotImplementedError

    def normalise(self, destination: str) -> str:
        """The destination, checked (ValueError if it is not one: no option, no header injection)."""
        raise NotImplementedError

    def prompt(self, destination: str) -> str:
        raise NotImplementedError

    def build_sender(self, delivery: DeliveryConfig) -> Sender | None:
        raise NotImplementedError

    def sender(self, delivery: DeliveryConfig) -> Sender | None:
        """One sender per delivery configuration, built on first use."""
        if id(delivery) not in self._senders:
            self._senders[id(delivery)] = self.build_sender(delivery)
        return self._senders[id(delivery)]

    async def start(
        self,
        ctx: Context,
        user: UserRecord,
        token: TokenRecord,
        settings: ChallengeSettings,
        request: AuthRequest | None = None,
    ) -> ChallengeStart | None:
        now = time.time()
        client = request.client if request else ""
        try:
            destination = self.normalise(self.destination(user, token) or "")
        except ValueError as exc:
            raise FactorError(CANNOT_SEND, reason=f"no usable destination ({exc})") from None
        delivery = ctx.config.delivery
        sender = self.sender(delivery)
        if sender is None:
            raise FactorError(CANNOT_SEND, reason=f"delivery.{self.channel} is not configured")

        reopened = await ctx.db.run(find_open, ctx.db, user.id, token.id, client, now)
        if reopened:
            state, prompt = reopened
            return ChallengeStart(prompt or self.prompt(destination), reuse=state)

        refused = await ctx.db.run(
            take_code_allowance,
            ctx.db,
            user.name,
            request.source if request else None,
            delivery.codes_per_user_per_hour,
            delivery.codes_per_source_per_hour,
            now,
        )
        if refused:
            raise FactorError(TOO_MANY, reason=refused)

        code = new_code(settings.code_length)
        message = CodeMessage(code, settings.validity, client or "login", user.name, now + settings.validity)
        try:
            await sender.send(destination, message)
        except DeliveryError as exc:
            raise FactorError(CANNOT_SEND, reason=str(exc)) from None
        nonce = secrets.token_urlsafe(12)
        return ChallengeStart(
            self.prompt(destination),
            code_hash=hash_code(ctx.keyring, code, code_identity(user.id, token.id, nonce)),
            context={NONCE: nonce},
        )

    def check_answer(
        self, token: TokenRecord, challenge: ChallengeRecord, answer: str, now: float, keyring: Keyring
    ) -> Match | None:
        if challenge.code_hash is None or challenge.token_id != token.id:
            return None
        identity = code_identity(challenge.user_id, challenge.token_id, str(challenge.context.get(NONCE, "")))
        return Match(token.id) if code_hash_matches(keyring, challenge.code_hash, answer, identity) else None


def fit(prompt: str) -> str:
    """At most PROMPT_WIDTH printable ASCII characters."""
    printable = "".join(c if 32 <= ord(c) < 127 else "?" for c in prompt)
    return printable[:PROMPT_WIDTH]
