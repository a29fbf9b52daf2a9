"""What the matching rule asks: code only, password only, deny, enrolment grace, allowed factors."""

from __future__ import annotations

from engine_support import PASSWORD, Store

from radiusd.engine.types import Outcome

RFC4226_CODES = ["755224", "287082", "359152"]


def rule(name: str, users: list[str], **fields: object) -> dict[str, object]:
    return {"name": name, "match": {"users": users}, **fields}


def test_code_only_rule_takes_the_code_alone(store: Store) -> None:
    store.user("alice")
    totp = store.totp("alice")
    engine = store.engine(rules=[rule("kiosk", ["alice"], code_only=True)])
    accepted = store.login(engine, "alice", totp.now())
    assert accepted.outcome is Outcome.ACCEPT, accepted.reason
    assert store.login(engine, "alice", "000000").outcome is Outcome.REJECT


def test_skip_rule_accepts_the_password_alone_and_deny_refuses_everything(store: Store) -> None:
    store.user("bob")
    store.user("carol")
    totp = store.totp("carol")
    store.token("bob", "totp")
    engine = store.engine(
        rules=[rule("trusted", ["bob"], action="skip"), rule("blocked", ["carol"], action="deny")]
    )
    skipped = store.login(engine, "bob", PASSWORD)
    assert skipped.outcome is Outcome.ACCEPT and "trusted" in skipped.reason
    assert store.login(engine, "bob", "wrong").outcome is Outcome.REJECT
    denied = store.login(engine, "carol", PASSWORD + totp.now())
    assert denied.outcome is Outcome.REJECT and "blocked" in denied.reason


def test_reply_attributes_of_the_rule_come_with_the_accept(store: Store) -> None:
    store.user("dave")
    store.token("dave", "hotp")
    reply = [{"attribute": "Filter-Id", "value": "staff"}]
    engine = store.engine(rules=[rule("staff", ["dave"], reply=reply)])
    decision = store.login(engine, "dave", PASSWORD + RFC4226_CODES[0])
    assert decision.outcome is Outcome.ACCEPT and decision.reply == (("Filter-Id", "staff"),)


def test_user_without_token_needs_enrolment_grace(store: Store) -> None:
    store.user("erin")
    strict = store.engine()
    refused = store.login(strict, "erin", PASSWORD)
    assert refused.outcome is Outcome.REJECT and "no token" in refused.reason
    lenient = store.engine(rules=[rule("new", ["erin"], enrolment_grace=3600)])
    # Inside the grace: first-login enrolment (tests/enrolment/), not an accept on the password.
    assert store.login(lenient, "erin", PASSWORD).outcome is Outcome.CHALLENGE


def test_factors_not_allowed_by_the_rule_are_ignored(store: Store) -> None:
    store.user("frank")
    store.token("frank", "hotp")
    codes = store.backup_codes("frank")
    engine = store.engine(rules=[rule("hardware", ["frank"], factors=["hotp"])])
    assert store.login(engine, "frank", PASSWORD + codes[0]).outcome is Outcome.REJECT
    assert store.login(engine, "frank", PASSWORD + RFC4226_CODES[0]).outcome is Outcome.ACCEPT
