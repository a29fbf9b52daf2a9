"""Password alone → challenge; the answer completes the login from any worker or node."""

from __future__ import annotations

from typing import Any, ClassVar

from engine_support import PASSWORD, Store

from radiusd.config.engine import ChallengeSettings
from radiusd.context import Context
from radiusd.engine.types import Outcome
from radiusd.factors.base import ChallengeStart, Factor, TokenRecord, UserRecord, seal_code
from radiusd.store.models import Challenge


def test_password_alone_gets_a_challenge_answered_on_another_node(store: Store) -> None:
    store.user("alice")
    totp = store.totp("alice")
    first, second = store.engine(), store.engine()
    challenge = store.login(first, "alice", PASSWORD)
    assert challenge.outcome is Outcome.CHALLENGE, challenge.reason
    assert challenge.message == "Enter your one-time code"
    assert challenge.state and len(challenge.state) == 32
    with store.ctx.db.session() as s:
        row = s.get(Challenge, challenge.state.decode())
        assert row is not None and row.context["first_factor"] == "local"
    answer = store.login(second, "alice", totp.now(), state=challenge.state)
    assert answer.outcome is Outcome.ACCEPT, answer.reason
    # The state is spent, even with a fresh code.
    again = store.login(first, "alice", totp.at(0), state=challenge.state)
    assert again.outcome is Outcome.REJECT


def test_wrong_answers_are_asked_again_until_the_attempts_run_out(store: Store) -> None:
    store.user("bob")
    totp = store.totp("bob")
    engine = store.engine(challenge={"attempts": 2})
    challenge = store.login(engine, "bob", PASSWORD)
    retry = store.login(engine, "bob", "000000", state=challenge.state)
    assert retry.outcome is Outcome.CHALLENGE and retry.state == challenge.state
    last = store.login(engine, "bob", "000001", state=challenge.state)
    assert last.outcome is Outcome.REJECT and "no attempts left" in last.reason
    late = store.login(engine, "bob", totp.now(), state=challenge.state)
    assert late.outcome is Outcome.REJECT


def test_state_is_bound_to_its_user_and_client(store: Store) -> None:
    store.user("carol")
    store.user("dave")
    totp = store.totp("carol")
    store.totp("dave")
    engine = store.engine()
    challenge = store.login(engine, "carol", PASSWORD)
    assert store.login(engine, "dave", totp.now(), state=challenge.state).outcome is Outcome.REJECT
    other_client = store.login(engine, "carol", totp.now(), state=challenge.state, client="other")
    assert other_client.outcome is Outcome.REJECT
    for junk in (b"", b"\xff" * 32, b"x" * 32, b"../" * 20):
        assert store.login(engine, "carol", totp.now(), state=junk).outcome is Outcome.REJECT
    assert store.login(engine, "carol", totp.now(), state=challenge.state).outcome is Outcome.ACCEPT


def test_a_backup_code_answers_the_challenge(store: Store) -> None:
    store.user("erin")
    store.totp("erin")
    codes = store.backup_codes("erin")
    engine = store.engine()
    challenge = store.login(engine, "erin", PASSWORD)
    answer = store.login(engine, "erin", codes[4], state=challenge.state)
    assert answer.outcome is Outcome.ACCEPT and answer.factor == "backup"


def test_challenge_can_be_turned_off(store: Store) -> None:
    store.user("frank")
    store.totp("frank")
    engine = store.engine(engine={"challenge_on_password_only": False})
    decision = store.login(engine, "frank", PASSWORD)
    assert decision.outcome is Outcome.REJECT and decision.state is None


class SentCode(Factor):
    """A challenge factor as an email or SMS factor implements it, sending nothing."""

    name: ClassVar[str] = "email"
    sent: ClassVar[list[str]] = []

    async def start(
        self,
        ctx: Context,
        user: UserRecord,
        token: TokenRecord,
        settings: ChallengeSettings,
        request: Any = None,
    ) -> ChallengeStart:
        code = "4711"
        self.sent.append(code)
        return ChallengeStart("Enter the code we sent", seal_code(ctx.keyring, code), {"to": "a***"})

    def check_answer(self, token: TokenRecord, challenge: Any, answer: str, now: float, keyring: Any) -> Any:
        from radiusd.factors.base import Match, sealed_code_matches

        ok = challenge.code_hash and sealed_code_matches(keyring, challenge.code_hash, answer)
        return Match(token.id) if ok else None


def test_a_challenge_factor_starts_and_checks_through_the_interface(store: Store) -> None:
    store.user("gina")
    store.token("gina", "email", secret=None)
    engine = store.engine()
    engine.factors["email"] = SentCode(engine.settings)
    challenge = store.login(engine, "gina", PASSWORD)
    assert challenge.outcome is Outcome.CHALLENGE and challenge.message == "Enter the code we sent"
    with store.ctx.db.session() as s:
        row = s.get(Challenge, (challenge.state or b"").decode())
        assert row is not None and row.code_hash and "4711" not in row.code_hash
    assert store.login(engine, "gina", "1234", state=challenge.state).outcome is Outcome.CHALLENGE
    assert store.login(engine, "gina", "4711", state=challenge.state).outcome is Outcome.ACCEPT
    assert store.login(engine, "gina", "4711", state=challenge.state).outcome is Outcome.REJECT


def test_expired_challenge_is_refused(store: Store) -> None:
    store.user("hank")
    totp = store.totp("hank")
    engine = store.engine()
    challenge = store.login(engine, "hank", PASSWORD)
    with store.ctx.db.sessions.begin() as s:
        row = s.get(Challenge, (challenge.state or b"").decode())
        assert row is not None
        row.expires_at = row.created_at - 1
    assert store.login(engine, "hank", totp.now(), state=challenge.state).outcome is Outcome.REJECT
