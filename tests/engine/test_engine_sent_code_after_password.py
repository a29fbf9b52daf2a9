"""A sent code typed after the password, without the challenge's State: how LDAP binds and Crowd
logins (which cannot carry a challenge) answer an email / SMS challenge. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar

from engine_support import PASSWORD, Store

from radiusd.config.engine import ChallengeSettings
from radiusd.context import Context
from radiusd.engine.engine import Engine
from radiusd.engine.types import Outcome
from radiusd.factors.base import ChallengeStart, Factor, Match, TokenRecord, UserRecord
from radiusd.store.models import Challenge


class FixedCode(Factor):
    """Sends nothing; its code is `code` (a test-only digest stands in for the real code hash)."""

    name: ClassVar[str] = "email"
    code: ClassVar[str] = "271828"

    async def start(
        self,
        ctx: Context,
        user: UserRecord,
        token: TokenRecord,
        settings: ChallengeSettings,
        request: Any = None,
    ) -> ChallengeStart:
        return ChallengeStart("Enter the code we sent", hashlib.sha256(self.code.encode()).hexdigest())

    def check_answer(self, token: TokenRecord, challenge: Any, answer: str, now: float, keyring: Any) -> Any:
        digest = hashlib.sha256(answer.encode()).hexdigest()
        return Match(token.id) if hmac.compare_digest(digest, challenge.code_hash or "") else None


def engine_for(store: Store, user: str, **sections: Any) -> Engine:
    store.user(user)
    store.token(user, "email", secret=None)
    engine = store.engine(**sections)
    engine.factors["email"] = FixedCode(engine.settings)
    return engine


def test_password_then_password_and_code(store: Store) -> None:
    engine = engine_for(store, "ldapuser")
    code = FixedCode.code
    assert store.login(engine, "ldapuser", PASSWORD, client="jira").outcome is Outcome.CHALLENGE
    # Another client cannot answer this client's challenge.
    assert store.login(engine, "ldapuser", PASSWORD + code, client="wiki").outcome is Outcome.REJECT
    accepted = store.login(engine, "ldapuser", PASSWORD + code, client="jira")
    assert accepted.outcome is Outcome.ACCEPT and accepted.factor == "email", accepted.reason
    replayed = store.login(engine, "ldapuser", PASSWORD + code, client="jira")
    assert replayed.outcome is Outcome.REJECT
    with store.ctx.db.session() as s:
        rows = s.query(Challenge).filter(Challenge.client == "jira").all()
        assert len(rows) == 1 and rows[0].done_at is not None


def test_separator_form_and_wrong_code_count_attempts(store: Store) -> None:
    engine = engine_for(store, "crowduser", engine={"separator": ","}, challenge={"attempts": 2})
    code = FixedCode.code
    assert store.login(engine, "crowduser", PASSWORD).outcome is Outcome.CHALLENGE
    assert store.login(engine, "crowduser", PASSWORD + ",000000").outcome is Outcome.REJECT
    assert store.login(engine, "crowduser", PASSWORD + "," + code).outcome is Outcome.ACCEPT
    # A new challenge; two failures (a wrong password and a wrong code) use it up.
    assert store.login(engine, "crowduser", PASSWORD).outcome is Outcome.CHALLENGE
    assert store.login(engine, "crowduser", "not-the-password" + code).outcome is Outcome.REJECT
    assert store.login(engine, "crowduser", PASSWORD + "000000").outcome is Outcome.REJECT
    assert store.login(engine, "crowduser", PASSWORD + code).outcome is Outcome.REJECT
