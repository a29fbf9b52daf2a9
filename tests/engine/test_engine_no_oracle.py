"""Unknown user, disabled user, wrong password and wrong code: the same answer, the same work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from engine_support import PASSWORD, Store

from radiusd.crypto.passwords import PasswordHashing
from radiusd.engine.types import Decision, Outcome


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The stored hash each argon2 verification was asked to check (None: the dummy hash)."""
    calls: list[str | None] = []
    real = PasswordHashing.verify

    def spy(self: PasswordHashing, stored: str | None, password: str) -> bool:
        calls.append(stored)
        return real(self, stored, password)

    monkeypatch.setattr(PasswordHashing, "verify", spy)
    yield calls


def front_door_view(d: Decision) -> tuple[Any, ...]:
    """All a front door sends back: the reason and factor stay in the audit."""
    return (d.outcome, d.message, d.state, d.reply)


def test_every_failure_looks_the_same_and_costs_one_password_check(
    store: Store, verified: list[str | None]
) -> None:
    store.user("alice")
    store.user("bob")
    totp = store.totp("alice")
    store.totp("bob")
    store.disable("bob")
    engine = store.engine()
    code = totp.now()
    cases = {
        "unknown user": ("nobody", PASSWORD + code),
        "user disabled": ("bob", PASSWORD + code),
        "wrong password": ("alice", "not it" + code),
        "wrong code": ("alice", PASSWORD + "000000"),
    }
    views = set()
    for expected, (user, secret) in cases.items():
        verified.clear()
        decision = store.login(engine, user, secret)
        assert decision.outcome is Outcome.REJECT
        assert expected.split()[-1] in decision.reason, (expected, decision.reason)
        assert len(verified) == 1, expected
        views.add(front_door_view(decision))
    assert views == {(Outcome.REJECT, "", None, ())}
    verified.clear()
    assert store.login(engine, "nobody", "x").outcome is Outcome.REJECT
    assert verified == [None]  # the dummy hash
