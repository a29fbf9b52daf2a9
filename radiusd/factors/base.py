"""The one small interface every second factor implements.

A factor is a stateless object, one per token type ("totp", "hotp", "yubikey", "backup", "email" …),
registered in `radiusd.factors.FACTORS`. The engine loads the user's enabled tokens as `TokenRecord`s
in one store round trip and asks the factor about them. A factor works in one or both of two ways:

1. A code the user reads from their own token (TOTP, HOTP, YubiKey, backup codes):

   - `code_lengths(token)` gives the lengths a code of this token can have when it is typed after
     the password ("hunter2" + "123456"), so the engine can split what was typed. Return () if the
     code is never typed inline.
   - `match(token, code, now, keyring)` checks the code, pure and in constant time, and returns a
     `Match` saying how to consume it, or None. It never writes: the engine consumes the match with
     ONE conditional UPDATE (radiusd.store.auth.consume), whose row count decides, so a code cannot
     be accepted twice by two workers or nodes:
       * `Match(token_id, counter=N, drift=D)`: `UPDATE tokens SET counter=N … WHERE counter < N`
         (TOTP step, HOTP counter, YubiKey usage/session counter);
       * `Match(token_id, item_hash=H)`: `UPDATE token_items SET used_at=… WHERE value_hash=H AND
         used_at IS NULL` (backup codes).
     A code that is right but at or below the last accepted counter matches with `replay=True`.

2. A challenge the server starts (email, SMS, security questions):

   - `start(ctx, user, token, settings)` is called when the first factor has passed and this token
     is chosen. It does whatever sending is needed (off the event loop, with a timeout) and returns
     a `ChallengeStart`: the prompt shown to the user, an optional `code_hash` (see `hash_code`) and
     a small JSON-able `context`. The engine stores the challenge (radiusd.store.challenges) with a
     random state, an expiry and an attempt limit, and answers the front door with the prompt.
     Raise `FactorError` with a user-safe message when the code could not be sent.
   - `check_answer(token, challenge, answer, now, keyring)` verifies the answer against the stored
     challenge and returns a Match (`Match(token_id)` when nothing but the challenge itself is
     consumed) or None. The default implementation verifies the answer as a code of the user's
     own token with `match`, which is what an "Enter your one-time code" challenge needs.

Whatever the path, the challenge row is closed by a conditional UPDATE in the same transaction
as the token's consume, so an answer is accepted at most once, on any node.

No factor may log or return a code, a seed or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from radiusd.crypto.keyring import PURPOSE_TOKEN, Keyring, KeyringError

if TYPE_CHECKING:
    from radiusd.config.engine import ChallengeSettings, EngineConfig
    from radiusd.context import Context
    from radiusd.engine.types import AuthRequest


class FactorError(Exception):
    """A factor cannot go on (a code could not be sent); the message may be shown to the user,
    `reason` says why for the audit ("sms gateway api.example.com: HTTP 500")."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One enabled token as the engine loaded it. The seed stays sealed until a factor opens it."""

    id: int
    type: str
    secret_enc: str | None
    params: Mapping[str, Any]
    counter: int
    drift: int
    preferred: bool = False
    items: tuple[str, ...] = ()
    """Hashes of the token's unused items (backup codes), loaded with the token."""

    def secret(self, keyring: Keyring) -> bytes:
        if self.secret_enc is None:
            raise FactorError("token has no secret")
        return keyring.decrypt(self.secret_enc, PURPOSE_TOKEN)


@dataclass(frozen=True, slots=True)
class UserRecord:
    """The user as the engine loaded it, with groups and enabled tokens, in one round trip."""

    id: int
    name: str
    enabled: bool
    password_hash: str | None
    backend: str | None
    email: str | None
    phone: str | None
    created_at: float
    groups: frozenset[str]
    tokens: tuple[TokenRecord, ...]


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    """An open challenge taken from the store (its attempt already counted)."""

    id: str
    user_id: int
    token_id: int | None
    factor: str
    code_hash: str | None
    context: Mapping[str, Any]
    attempts: int
    max_attempts: int


@dataclass(frozen=True, slots=True)
class ChallengeStart:
    prompt: str
    code_hash: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    reuse: str | None = None
    """The state of this token's challenge still open for this user and client: answer that one
    (same code, same attempt count) rather than opening another."""


@dataclass(frozen=True, slots=True)
class Match:
    """A code that checked out, and how to consume it (see the module docstring)."""

    token_id: int
    counter: int | None = None
    drift: int = 0
    item_hash: str | None = None
    replay: bool = False


class Factor:
    """Base class: override what your factor does; the defaults say "not this way"."""

    name: ClassVar[str]

    def __init__(self, engine: EngineConfig) -> None:
        self.engine = engine

    def code_lengths(self, token: TokenRecord) -> tuple[int, ...]:
        return ()

    def match(self, token: TokenRecord, code: str, now: float, keyring: Keyring) -> Match | None:
        return None

    async def start(
        self,
        ctx: Context,
        user: UserRecord,
        token: TokenRecord,
        settings: ChallengeSettings,
        request: AuthRequest | None = None,
    ) -> ChallengeStart | None:
        return None

    def check_answer(
        self, token: TokenRecord, challenge: ChallengeRecord, answer: str, now: float, keyring: Keyring
    ) -> Match | None:
        return self.match(token, answer, now, keyring)


def same(a: str, b: str) -> bool:
    """Constant-time string comparison for codes."""
    return hmac.compare_digest(a.encode(), b.encode())


CODE_HASH_VERSION = "h1"
PURPOSE_CODE_HASH = "sent-code-hmac"
"""The label the key ring derives the code-hash key with (HKDF): used for nothing else."""


def code_identity(user_id: int, token_id: int | None, nonce: str) -> str:
    """What a code hash is bound to: the challenge's user and token and a random nonce kept in the
    challenge's context, so a hash copied to another user's challenge does not match and two
    challenges with the same code do not share a hash."""
    return f"user:{user_id}/token:{token_id}/nonce:{nonce}"


def _code_mac(key: bytes, identity: str, code: str) -> str:
    if "\0" in identity:
        raise ValueError("a code identity cannot contain NUL")
    return hmac.new(key, identity.encode() + b"\0" + code.encode(), hashlib.sha256).hexdigest()


def hash_code(keyring: Keyring, code: str, identity: str = "") -> str:
    """The at-rest form of a code sent by email or SMS (challenges.code_hash):
    "h1.<key id>.<hex HMAC-SHA256>" under a key derived from the key ring's current key.

    Keyed, because a plain hash of a 6-digit code is reversed by trying a million values: without
    the key file a copy of the database cannot even test a guess. The key id travels with the
    hash, so a challenge opened before `radiusd key rotate` is still checked after it."""
    kid, key = keyring.derive(PURPOSE_CODE_HASH)
    return f"{CODE_HASH_VERSION}.{kid}.{_code_mac(key, identity, code)}"


def code_hash_matches(keyring: Keyring, stored: str, answer: str, identity: str = "") -> bool:
    """The answer against a stored hash, in constant time; False for a value of another form or
    a key the ring does not hold."""
    version, _, rest = stored.partition(".")
    kid, _, mac = rest.partition(".")
    if version != CODE_HASH_VERSION or not kid or not mac:
        return False
    try:
        _, key = keyring.derive(PURPOSE_CODE_HASH, kid)
    except KeyringError:
        return False
    return hmac.compare_digest(_code_mac(key, identity, answer.strip()), mac)


# Earlier names, kept for callers written against them.
seal_code = hash_code
sealed_code_matches = code_hash_matches
