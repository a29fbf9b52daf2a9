"""First-login enrolment: a user with no token, inside the rule's enrolment grace, sets up TOTP.

    right password, no enabled token
      ├─ outside the grace (or none)   → reject, the reason says which
      └─ inside the grace              → a pending (disabled) TOTP token with a fresh seed, sealed
                                         by the key ring (reused while it is pending, never a
                                         second one) → a challenge in the store for that token:
                                         the prompt, and the otpauth URI as a further line
    answer with the State
      ├─ a valid code                  → the token enabled with the code's step (compare-and-set)
      │                                  and the challenge closed, one transaction → accept
      └─ a wrong code                  → the same challenge (prompt and URI) again while attempts
                                         remain, then a reject

The grace is measured from users.created_at. Enrolment needs a real first factor: a code-only
rule or the `none` backend never gets here, so knowing a user name is not enough to be handed a
seed. The URI holds the seed: it travels only in Decision.lines, which is never logged or audited.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import TYPE_CHECKING

import pyotp

from radiusd.crypto.keyring import PURPOSE_TOKEN, KeyringError
from radiusd.engine.types import AuthRequest, Decision, Outcome
from radiusd.factors.base import ChallengeRecord, Factor, FactorError, TokenRecord, UserRecord
from radiusd.store import enrolment as store

if TYPE_CHECKING:
    from radiusd.context import Context
    from radiusd.engine.challenges import Challenges
    from radiusd.engine.rules import Requirement

log = logging.getLogger(__name__)

PROMPT = "Scan the QR code or add the URI to your authenticator app; enter its code"
"""The first Reply-Message: at most 80 characters, all that pam_radius_auth shows."""
ISSUER = "radiusd"
SEED_BYTES = 20  # 160 bits, RFC 4226's recommendation
PARAMS = {"digits": 6, "algorithm": "sha1", "period": 30}
"""What every authenticator app understands."""
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


class FirstLogin:
    def __init__(self, ctx: Context, challenges: Challenges, totp: Factor) -> None:
        self.ctx = ctx
        self.challenges = challenges
        self.totp = totp

    # -- the login -------------------------------------------------------------------------------

    async def no_token(
        self,
        request: AuthRequest,
        user: UserRecord,
        req: Requirement,
        passed: str,
        first_factor: str,
        now: float,
    ) -> Decision:
        """The password was right and the user has no token the rule allows: enrol or reject.
        `passed` is the first factor's reason, `first_factor` the backend's name."""
        if not req.enrolment_grace:
            return Decision.reject(f"{passed}; no token enrolled (rule {req.rule} has no enrolment grace)")
        age = now - user.created_at
        if age >= req.enrolment_grace:
            return Decision.reject(
                f"{passed}; no token enrolled and the enrolment grace of rule {req.rule} is over "
                f"(user created {age:.0f} s ago, grace {req.enrolment_grace:.0f} s)"
            )
        if user.tokens:
            return Decision.reject(f"{passed}; no token enrolled that rule {req.rule} allows")
        if req.factors is not None and "totp" not in req.factors:
            return Decision.reject(f"{passed}; no token enrolled, and rule {req.rule} does not allow totp")
        fresh = self.ctx.keyring.encrypt(secrets.token_bytes(SEED_BYTES), PURPOSE_TOKEN)
        token = await self.ctx.db.run(
            store.pending_token, self.ctx.db, user.id, fresh, PARAMS, now, self._opens
        )
        state = await self.challenges.open(
            request, user, req.challenge, factor="totp", token_id=token.id, code_hash=None,
            context={"first_factor": first_factor, "rule": req.rule, "prompt": PROMPT, "enrolment": True},
        )  # fmt: skip
        return self._challenge(
            state, user, token, f"{passed}; no token, enrolment grace: totp token {token.id}"
        )

    async def answer(
        self, request: AuthRequest, user: UserRecord, challenge: ChallengeRecord, req: Requirement, now: float
    ) -> Decision:
        """The code typed in answer to an enrolment challenge (its attempt already counted)."""
        token = None
        if challenge.token_id is not None:
            token = await self.ctx.db.run(store.pending_by_id, self.ctx.db, challenge.token_id, user.id)
        if token is None:
            return Decision.reject("enrolment: the pending token is no longer pending", factor="totp")
        code = (request.code if request.code is not None else request.secret).strip()
        try:
            match = self.totp.match(token, code, now, self.ctx.keyring)
        except (KeyringError, FactorError, ValueError) as exc:
            log.warning("pending token %d cannot be checked: %s", token.id, exc)
            return Decision.reject("enrolment: the pending token cannot be opened", factor="totp")
        if match is not None and not match.replay:
            if await self.ctx.db.run(store.activate, self.ctx.db, match, now, challenge.id):
                return Decision.accept(
                    f"totp code ok; token {token.id} enrolled at first login", req.reply, "totp"
                )
            return Decision.reject("totp: code already used", factor="totp")
        if challenge.attempts < challenge.max_attempts:
            return self._challenge(request.state or b"", user, token, "enrolment: wrong code; asked again")
        return Decision.reject("enrolment: wrong code; no attempts left", factor="totp")

    # -- helpers ---------------------------------------------------------------------------------

    def _challenge(self, state: bytes, user: UserRecord, token: TokenRecord, reason: str) -> Decision:
        return Decision(
            Outcome.CHALLENGE,
            reason=reason,
            message=PROMPT,
            state=state,
            factor="totp",
            lines=(self.uri(user.name, token),),
        )

    def uri(self, user: str, token: TokenRecord) -> str:
        """The otpauth:// URI an authenticator app takes (what the QR code encodes)."""
        params = token.params
        otp = pyotp.TOTP(
            base64.b32encode(token.secret(self.ctx.keyring)).decode(),
            digits=int(params.get("digits", 6)),
            digest=_DIGESTS[str(params.get("algorithm", "sha1"))],
            interval=int(params.get("period", 30)),
        )
        return otp.provisioning_uri(name=user, issuer_name=ISSUER)

    def _opens(self, token: TokenRecord) -> bool:
        """A pending token is reused only if its seed still opens (the key ring may have lost it)."""
        try:
            token.secret(self.ctx.keyring)
        except (KeyringError, FactorError):
            return False
        return True
