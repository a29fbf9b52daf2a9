"""The engine: the only place that decides.

    AuthRequest
      ├─ answer to a challenge (state) ─► take the challenge (attempt counted in the store)
      │                                   → policy → gate → the code against the challenge's
      │                                   token(s) → consume code + close challenge (one CAS)
      └─ new login ─► load user, groups, tokens (one store round trip)
                      → policy (deny / skip / require, allowed factors, code-only)
                      → gate (lockout and rate limits, before any secret is checked)
                      → split what was typed; find the code among the user's tokens (in memory),
                        else the code of an open email / SMS challenge of this user and client
                        (typed after the password: LDAP and Crowd cannot carry a challenge)
                      → first factor: the user's password backend, ONCE, on the password the
                        matching code points to (or on everything typed, when no code matched)
                      → second factor: consume the code by compare-and-set, or, when the password
                        alone was typed, open a challenge ("Enter your one-time code", or a code
                        sent by email / SMS)
      → record: lockout counters, audit
    Decision

No oracle: an unknown user is checked against the backend like anyone else (the local backend
verifies a dummy hash), and every reject the front door sees is the same bare reject; the real
reason is only in Decision.reason. Any unexpected error is a reject, never an accept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radiusd.backends.select import Backends
from radiusd.context import Context
from radiusd.crypto.keyring import KeyringError
from radiusd.engine.audit import AuditTrail
from radiusd.engine.challenges import Challenges
from radiusd.engine.enrolment import FirstLogin
from radiusd.engine.lockout import Lockout
from radiusd.engine.rules import Policy, Requirement, Subject
from radiusd.engine.splitting import Split, splits
from radiusd.engine.types import AuthRequest, Decision, Outcome
from radiusd.factors import build_factors
from radiusd.factors.base import ChallengeRecord, FactorError, Match, TokenRecord, UserRecord
from radiusd.store import auth

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Found:
    split: Split
    token: TokenRecord
    match: Match
    challenge: ChallengeRecord | None = None
    """The open challenge whose sent code was typed after the password (not yet counted)."""


@dataclass(frozen=True, slots=True)
class _Result:
    decision: Decision
    failure: bool = False
    """A wrong password or code: counted by the lockout."""
    cleared: bool = False
    """An accept whose consume already deleted the user's failure events (same transaction)."""


class Engine:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.settings = cfg.engine
        self.policy = Policy(cfg.rules, cfg.challenge, cfg.lockout)
        self.lockout = Lockout(ctx)
        self.audit = AuditTrail(ctx)
        self.backends = Backends(ctx)
        self.challenges = Challenges(ctx)
        self.factors = build_factors(cfg.engine)
        self.enrolment = FirstLogin(ctx, self.challenges, self.factors["totp"])

    async def authenticate(self, request: AuthRequest) -> Decision:
        started = time.perf_counter()
        try:
            decision = await self._decide(request)
        except Exception as exc:
            log.exception("login of %r failed with an internal error", request.user[:64])
            decision = Decision.reject(f"internal error: {exc.__class__.__name__}")
        await self.audit.record(request, decision, (time.perf_counter() - started) * 1000)
        return decision

    async def close(self) -> None:
        self.backends.close()
        await self.audit.close()

    # -- the path --------------------------------------------------------------------------------

    async def _decide(self, request: AuthRequest) -> Decision:
        now = time.time()
        if request.state is not None:
            return await self._answer(request, now)
        # One store round trip: the user, groups, tokens, the locks that may apply (every source
        # key a rule could count against) and whether the user has failure events to clear.
        user_key, sources = self.lockout.keys(request.user, request.source)
        login = await self.ctx.db.read_async(
            auth.read_login, request.user, user_key, sources, self.lockout.now()
        )
        user = login.user
        requirement = self.policy.match(self._subject(request, user.groups if user else frozenset(), now))
        if requirement.action == "deny":
            return Decision.reject(f"denied by rule {requirement.rule}")
        # The gate, before any secret is checked, on the locks read with the user.
        refused = self.lockout.refused(login.locks, request.user, request.source, requirement.lockout)
        if refused:
            return Decision.reject(refused)
        failures = user_key if login.has_failures else None
        result = await self._login(request, user, requirement, now, failures)
        if result.decision.outcome is Outcome.ACCEPT and (result.cleared or failures is None):
            return result.decision  # no failure events to clear, or cleared with the consume
        await self._count(request, requirement, result)
        return result.decision

    async def _login(
        self,
        request: AuthRequest,
        user: UserRecord | None,
        req: Requirement,
        now: float,
        failures: str | None = None,
    ) -> _Result:
        tokens = self._usable(user, req)
        backend = self.backends.for_user(request.user, user.backend if user else None)
        code_only = req.code_only or backend.name == "none"

        if code_only:
            candidates = [Split("", request.code or request.secret, True)]
        elif request.code is not None:  # the front door received the code apart (SCRV1)
            candidates = [Split(request.secret, request.code, True)]
        else:
            lengths = [n for t in tokens for n in self.factors[t.type].code_lengths(t)]
            candidates = splits(request.secret, lengths, self.settings.separator)
        found = self._find(tokens, candidates, now)
        # No code of the user's own tokens: perhaps the code of an email / SMS challenge opened by
        # an earlier login with the password alone, typed after the password this time.
        pending: list[ChallengeRecord] = []
        if found is None and not code_only and user is not None and self._sends_codes(tokens):
            pending = await self.ctx.db.run(
                auth.open_code_challenges, self.ctx.db, user.id, request.client, now
            )
            found = self._find_sent(tokens, pending, request, req, now)

        # The first factor, checked once: on the password the matching code points to, or on
        # everything typed. Unknown and disabled users are checked too, so they cost the same.
        first_ok, first_reason = True, "code only"
        if not code_only:
            password = found.split.password if found else request.secret
            checked = await backend.verify(request.user, password, user.password_hash if user else None)
            first_ok, first_reason = checked.ok, checked.reason
            if user is not None and user.enabled and checked.ok and checked.groups:
                req = self.policy.match(self._subject(request, user.groups | set(checked.groups), now))
                if req.action == "deny":
                    return _Result(Decision.reject(f"denied by rule {req.rule}"))
                tokens = self._usable(user, req)
                if found and found.token not in tokens:
                    found = None
        if user is None:
            return _Result(Decision.reject("unknown user"), failure=True)
        if not user.enabled:
            return _Result(Decision.reject("user disabled"), failure=True)
        if not first_ok:
            hint = f" (the {found.token.type} code was right)" if found else ""
            if not found and (candidates or pending):
                hint = ", or a wrong code"
            if pending:  # a wrong password or a wrong code: an attempt at the open challenges
                await self.ctx.db.run(auth.count_attempts, self.ctx.db, [c.id for c in pending], now)
            return _Result(Decision.reject(f"{first_reason}{hint}"), failure=True)

        if found and found.challenge is not None:
            taken = await self.ctx.db.run(
                auth.take_challenge, self.ctx.db, found.challenge.id, user.name, request.client, now
            )
            if taken is None:
                return _Result(Decision.reject("challenge expired, answered or out of attempts"), True)
            return await self._consume(found, req, now, found.challenge.id, failures)
        if found:
            return await self._consume(found, req, now, None, failures)
        if code_only:
            return _Result(Decision.reject("wrong code" if tokens else "no token enrolled"), failure=True)
        # The password alone was right.
        if req.action == "skip":
            return _Result(
                Decision.accept(f"{first_reason}; rule {req.rule} skips the code", req.reply, "password")
            )
        if not tokens:  # first-login enrolment inside the rule's grace, else a reject
            return _Result(await self.enrolment.no_token(request, user, req, first_reason, backend.name, now))
        if request.code is not None:
            if pending:
                await self.ctx.db.run(auth.count_attempts, self.ctx.db, [c.id for c in pending], now)
            return _Result(Decision.reject(f"{first_reason}; wrong code"), failure=True)
        return await self._challenge(request, user, tokens, req, backend.name)

    async def _challenge(
        self, request: AuthRequest, user: UserRecord, tokens: list[TokenRecord], req: Requirement, first: str
    ) -> _Result:
        """Open a challenge after a right password sent alone."""
        inline = [t for t in tokens if self.factors[t.type].code_lengths(t)]
        pick = next((t for t in tokens if t.preferred), None) or (inline[0] if inline else tokens[0])
        factor = self.factors[pick.type]
        context: dict[str, Any] = {"first_factor": first, "rule": req.rule}
        if factor.code_lengths(pick):
            # Any of the user's own tokens may answer "Enter your one-time code".
            if not self.settings.challenge_on_password_only:
                return _Result(Decision.reject("password without a code (challenges are off)"))
            prompt = self.settings.challenge_prompt
            state = await self.challenges.open(
                request, user, req.challenge, factor="otp", token_id=None, code_hash=None,
                context={**context, "prompt": prompt},
            )  # fmt: skip
            return _Result(Decision.challenge(prompt, state, "password ok; asked for the code", "otp"))
        try:
            started = await factor.start(self.ctx, user, pick, req.challenge, request)
        except FactorError as exc:
            return _Result(Decision.reject(f"{pick.type}: {exc.reason}", message=str(exc), factor=pick.type))
        if started is None:
            return _Result(Decision.reject(f"{pick.type}: cannot start a challenge", factor=pick.type))
        if started.reuse is not None:  # the factor's challenge still open: no new code, same attempts
            state = started.reuse.encode("ascii")
        else:
            context |= {"code_length": req.challenge.code_length, **started.context, "prompt": started.prompt}
            state = await self.challenges.open(
                request, user, req.challenge, factor=pick.type, token_id=pick.id,
                code_hash=started.code_hash, context=context,
            )  # fmt: skip
        return _Result(
            Decision.challenge(started.prompt, state, f"password ok; {pick.type} challenge", pick.type)
        )

    async def _answer(self, request: AuthRequest, now: float) -> Decision:
        """The answer to a challenge: the first factor passed when the challenge was opened."""
        taken = await self.challenges.take(request)
        if taken is None:
            return Decision.reject("challenge unknown, expired, answered or out of attempts")
        challenge, user = taken
        req = self.policy.match(self._subject(request, user.groups, now))
        if req.action == "deny":
            return Decision.reject(f"denied by rule {req.rule}")
        refused = await self.lockout.gate(request.user, request.source, req.lockout)
        if refused:
            return Decision.reject(refused)
        if not user.enabled:
            return Decision.reject("user disabled")
        if challenge.context.get("enrolment"):  # the first code of a token shown at first login
            decision = await self.enrolment.answer(request, user, challenge, req, now)
            await self._count(request, req, _Result(decision, decision.outcome is not Outcome.ACCEPT))
            return decision
        tokens = self._usable(user, req)
        answer = request.code if request.code is not None else request.secret
        if challenge.token_id is None:
            found = self._find(tokens, [Split("", answer.strip(), True)], now)
        else:
            found = None
            token = next((t for t in tokens if t.id == challenge.token_id), None)
            if token is not None:
                check = self.factors[token.type].check_answer
                # Off the loop: an answer may be checked with argon2 (security questions).
                match = await asyncio.wait_for(
                    asyncio.to_thread(self._try, check, token, challenge, answer, now, self.ctx.keyring),
                    self.settings.backend_timeout,
                )
                found = _Found(Split("", "", True), token, match) if match else None
        if found is not None:
            result = await self._consume(found, req, now, challenge.id)
        elif challenge.attempts < challenge.max_attempts:
            prompt = str(challenge.context.get("prompt", self.settings.challenge_prompt))
            result = _Result(
                Decision.challenge(prompt, request.state or b"", "wrong code; asked again", challenge.factor),
                failure=True,
            )
        else:
            result = _Result(Decision.reject("wrong code; no attempts left", factor=challenge.factor), True)
        await self._count(request, req, result)
        return result.decision

    # -- steps -----------------------------------------------------------------------------------

    async def _consume(
        self,
        found: _Found,
        req: Requirement,
        now: float,
        challenge_id: str | None,
        failures: str | None = None,
    ) -> _Result:
        """Consume the code by compare-and-set; with `failures` (the user's lockout key), the
        user's failure events are deleted in the same transaction when the consume wins."""
        kind = found.token.type
        if found.match.replay:
            return _Result(Decision.reject(f"{kind}: code already used", factor=kind), failure=True)
        if not await self.ctx.db.write_async(auth.consume_in, found.match, now, challenge_id, failures):
            return _Result(Decision.reject(f"{kind}: code already used", factor=kind), failure=True)
        return _Result(Decision.accept(f"{kind} code ok", req.reply, kind), cleared=failures is not None)

    def _find(self, tokens: list[TokenRecord], candidates: list[Split], now: float) -> _Found | None:
        """The first reading of what was typed whose code a token accepts; a replayed code only if
        nothing better matches (so the reason can say so)."""
        replayed = None
        for split in candidates:
            for token in tokens:
                factor = self.factors[token.type]
                if not split.separated and len(split.code) not in factor.code_lengths(token):
                    continue
                match = self._try(factor.match, token, split.code, now, self.ctx.keyring)
                if match is None:
                    continue
                if not match.replay:
                    return _Found(split, token, match)
                replayed = replayed or _Found(split, token, match)
        return replayed

    def _sends_codes(self, tokens: list[TokenRecord]) -> bool:
        """Whether any of these tokens is answered by a code the server sent (no inline code)."""
        return any(not self.factors[t.type].code_lengths(t) for t in tokens)

    def _find_sent(
        self,
        tokens: list[TokenRecord],
        pending: list[ChallengeRecord],
        request: AuthRequest,
        req: Requirement,
        now: float,
    ) -> _Found | None:
        """The reading of what was typed as password + the sent code of one of the open challenges.

        Pure (the code is compared in constant time by the factor); the engine counts the attempt
        and closes the challenge only after the password part passed the first factor."""
        by_id = {t.id: t for t in tokens}
        for challenge in pending:
            token = by_id.get(challenge.token_id or -1)
            if token is None:
                continue
            if request.code is not None:
                candidates = [Split(request.secret, request.code, True)]
            else:
                length = int(challenge.context.get("code_length") or req.challenge.code_length)
                candidates = splits(request.secret, [length], self.settings.separator)
            check = self.factors[token.type].check_answer
            for split in candidates:
                match = self._try(check, token, challenge, split.code, now, self.ctx.keyring)
                if match is not None:
                    return _Found(split, token, match, challenge)
        return None

    @staticmethod
    def _try(check: Callable[..., Match | None], token: TokenRecord, *args: Any) -> Match | None:
        """A token whose secret cannot be opened is skipped (and logged), not fatal to the login."""
        try:
            return check(token, *args)
        except (KeyringError, FactorError, ValueError) as exc:
            log.warning("token %d (%s) cannot be checked: %s", token.id, token.type, exc)
            return None

    def _usable(self, user: UserRecord | None, req: Requirement) -> list[TokenRecord]:
        if user is None:
            return []
        return [
            t
            for t in user.tokens
            if t.type in self.factors and (req.factors is None or t.type in req.factors)
        ]

    @staticmethod
    def _subject(request: AuthRequest, groups: frozenset[str], now: float) -> Subject:
        return Subject(request.user, groups, request.client, request.frontdoor, request.source, now)

    async def _count(self, request: AuthRequest, req: Requirement, result: _Result) -> None:
        if result.decision.outcome is Outcome.ACCEPT:
            await self.lockout.success(request.user, request.source)
        elif result.failure:
            await self.lockout.failure(request.user, request.source, req.lockout)
