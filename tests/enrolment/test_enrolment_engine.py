"""First-login enrolment in the engine, on SQLite and PostgreSQL: a user without a token, inside
the rule's grace, is shown a new TOTP seed and must answer with a valid code; the token is then
active and the next login needs a code. Outside the grace: reject."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from enrolment_fixtures import PASSWORD, Store, request, store, totp_of
from sqlalchemy import func, select, update

from radiusd.engine.enrolment import PROMPT
from radiusd.engine.types import Decision, Outcome
from radiusd.store import admin
from radiusd.store.enrolment import ENROLLED, PENDING
from radiusd.store.models import Token, User

__all__ = ["store"]  # the fixture

GRACE = 3600.0


def grace_rule(**fields: Any) -> list[dict[str, Any]]:
    return [{"name": "new-staff", "match": {"users": ["new*"]}, "enrolment_grace": GRACE, **fields}]


def tokens(store: Store, user: str) -> list[dict[str, Any]]:
    with store.ctx.db.sessions.begin() as s:
        return admin.list_tokens(s, user)


def created_ago(store: Store, user: str, seconds: float) -> None:
    with store.ctx.db.sessions.begin() as s:
        s.execute(update(User).where(User.name == user).values(created_at=time.time() - seconds))


def answer(store: Store, engine: Any, user: str, challenge: Decision, code: str) -> Decision:
    return store.login(engine, user, code, state=challenge.state)


def wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


def test_grace_enrols_a_totp_token_confirmed_by_its_first_code(store: Store) -> None:
    store.user("newton")
    engine = store.engine(rules=grace_rule())

    shown = store.login(engine, "newton", PASSWORD)
    assert shown.outcome is Outcome.CHALLENGE, shown.reason
    assert shown.message == PROMPT and len(PROMPT) <= 80
    (line,) = shown.lines
    uri, app = totp_of(line)
    assert uri.startswith("otpauth://totp/radiusd:newton?") and "issuer=radiusd" in uri
    assert "enrolment grace" in shown.reason and app.secret not in shown.reason
    (pending,) = tokens(store, "newton")
    assert pending["type"] == "totp" and not pending["enabled"] and pending["description"] == PENDING

    # The answer goes to another engine (another worker or node): the challenge is in the store.
    other = store.engine(rules=grace_rule())
    code = app.now()
    accepted = answer(store, other, "newton", shown, code)
    assert accepted.outcome is Outcome.ACCEPT, accepted.reason
    assert accepted.factor == "totp" and "enrolled at first login" in accepted.reason
    (active,) = tokens(store, "newton")
    assert active["id"] == pending["id"] and active["enabled"] and active["description"] == ENROLLED

    # The challenge is closed and the code used up.
    assert answer(store, engine, "newton", shown, code).outcome is Outcome.REJECT
    replayed = store.login(engine, "newton", PASSWORD + code)
    assert replayed.outcome is Outcome.REJECT and "already used" in replayed.reason

    # From now on the password alone is not enough: the ordinary code challenge, no URI.
    asked = store.login(engine, "newton", PASSWORD)
    assert asked.outcome is Outcome.CHALLENGE and asked.lines == ()
    assert asked.message == "Enter your one-time code"
    next_code = app.at(time.time() + 30)  # the step after the one consumed (window ±1)
    assert answer(store, engine, "newton", asked, next_code).outcome is Outcome.ACCEPT
    assert len(tokens(store, "newton")) == 1


def test_wrong_codes_use_up_the_attempts_and_leave_the_token_pending(store: Store) -> None:
    store.user("newt")
    engine = store.engine(rules=grace_rule(challenge={"attempts": 3}))
    shown = store.login(engine, "newt", PASSWORD)
    uri, app = totp_of(shown.lines[0])
    bad = wrong(app.now())
    for _ in range(2):
        again = answer(store, engine, "newt", shown, bad)
        assert again.outcome is Outcome.CHALLENGE, again.reason
        assert again.state == shown.state and again.lines == (uri,)  # the URI again, for a retry
    last = answer(store, engine, "newt", shown, bad)
    assert last.outcome is Outcome.REJECT and "no attempts left" in last.reason
    # Out of attempts, even the right code is refused on this challenge.
    assert answer(store, engine, "newt", shown, app.now()).outcome is Outcome.REJECT
    (pending,) = tokens(store, "newt")
    assert not pending["enabled"]
    # A pending token does not let the user in with a code in one line either.
    assert store.login(engine, "newt", PASSWORD + app.now()).outcome is not Outcome.ACCEPT


def test_outside_the_grace_a_user_without_token_is_rejected(store: Store) -> None:
    store.user("newman")
    created_ago(store, "newman", GRACE + 60)
    engine = store.engine(rules=grace_rule())
    refused = store.login(engine, "newman", PASSWORD)
    assert refused.outcome is Outcome.REJECT and refused.lines == ()
    assert (
        "no token enrolled" in refused.reason
        and "enrolment grace of rule new-staff is over" in refused.reason
    )
    assert refused.message == ""  # the front door sees a bare reject
    strict = store.engine()
    plain = store.login(strict, "newman", PASSWORD)
    assert plain.outcome is Outcome.REJECT and "has no enrolment grace" in plain.reason
    assert tokens(store, "newman") == []


def test_no_seed_without_the_right_password_or_for_code_only_rules(store: Store) -> None:
    store.user("newbie")
    engine = store.engine(rules=grace_rule())
    assert store.login(engine, "newbie", "wrong password").outcome is Outcome.REJECT
    code_only = store.engine(rules=grace_rule(code_only=True))
    refused = store.login(code_only, "newbie", "123456")
    assert refused.outcome is Outcome.REJECT and refused.lines == ()
    hardware = store.engine(rules=grace_rule(factors=["hotp"]))
    assert store.login(hardware, "newbie", PASSWORD).outcome is Outcome.REJECT
    assert tokens(store, "newbie") == []


def test_enrolling_again_reuses_the_pending_token_never_piles_up(store: Store) -> None:
    store.user("newcomer")
    engines = [store.engine(rules=grace_rule()) for _ in range(2)]
    first = store.login(engines[0], "newcomer", PASSWORD)
    second = store.login(engines[1], "newcomer", PASSWORD)
    assert first.lines == second.lines and first.state != second.state  # same seed, own challenge

    async def many() -> list[Decision]:
        return await asyncio.gather(
            *(engines[i % 2].authenticate(request("newcomer", PASSWORD)) for i in range(8))
        )

    decisions = store.run(many())
    assert {d.outcome for d in decisions} == {Outcome.CHALLENGE}
    assert {d.lines for d in decisions} == {first.lines}
    assert len(tokens(store, "newcomer")) == 1

    # Either open challenge takes the first code; the token is enabled once.
    _, app = totp_of(first.lines[0])
    assert answer(store, engines[1], "newcomer", first, app.now()).outcome is Outcome.ACCEPT
    assert answer(store, engines[0], "newcomer", second, app.now()).outcome is Outcome.REJECT
    with store.ctx.db.session() as s:
        count = s.scalar(select(func.count()).select_from(Token).where(Token.enabled.is_(True)))
    assert count == 1


def test_a_pending_token_that_cannot_be_opened_is_replaced(store: Store) -> None:
    store.user("newell")
    engine = store.engine(rules=grace_rule())
    first = store.login(engine, "newell", PASSWORD)
    with store.ctx.db.sessions.begin() as s:
        s.execute(update(Token).values(secret_enc="v1:garbage"))
    second = store.login(engine, "newell", PASSWORD)
    assert second.outcome is Outcome.CHALLENGE and second.lines != first.lines
    (replacement,) = tokens(store, "newell")
    # The first challenge pointed at the removed token: it cannot enrol anything.
    _, app = totp_of(second.lines[0])
    assert answer(store, engine, "newell", first, app.now()).outcome is Outcome.REJECT
    assert answer(store, engine, "newell", second, app.now()).outcome is Outcome.ACCEPT
    assert tokens(store, "newell")[0]["id"] == replacement["id"]
