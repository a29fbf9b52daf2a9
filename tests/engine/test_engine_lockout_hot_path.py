"""The lockout on the one-read login path: the gate on the locks read with the user (under the
source key of whichever rule matches), and the failure count cleared with the code's consume."""

from __future__ import annotations

import time

from engine_support import Store
from sqlalchemy import func, select

from radiusd.engine.lockout import FAIL_SOURCE, FAIL_USER, lock
from radiusd.engine.types import Outcome
from radiusd.store.models import RateEvent

RFC4226_CODES = ["755224", "287082", "359152", "969429"]


def _events(store: Store, kind: str, key: str) -> int:
    with store.ctx.db.session() as s:
        return int(s.scalar(select(func.count()).where(RateEvent.kind == kind, RateEvent.key == key)) or 0)


def test_a_code_only_accept_clears_the_users_failures_not_the_sources(store: Store) -> None:
    store.user("dave", password=None, backend="none")
    store.token("dave", "hotp")
    engine = store.engine()
    assert store.login(engine, "dave", RFC4226_CODES[0], source="192.0.2.5").outcome is Outcome.ACCEPT
    assert store.login(engine, "dave", "000000", source="192.0.2.5").outcome is Outcome.REJECT
    assert _events(store, FAIL_USER, "dave") == 1 and _events(store, FAIL_SOURCE, "192.0.2.5") == 1
    assert store.login(engine, "dave", RFC4226_CODES[1], source="192.0.2.5").outcome is Outcome.ACCEPT
    assert _events(store, FAIL_USER, "dave") == 0 and _events(store, FAIL_SOURCE, "192.0.2.5") == 1
    # A replay is a failure again, and nothing is cleared by it.
    assert store.login(engine, "dave", RFC4226_CODES[1], source="192.0.2.5").outcome is Outcome.REJECT
    assert _events(store, FAIL_USER, "dave") == 1


def test_the_gate_uses_the_source_key_of_the_rule_that_matches(store: Store) -> None:
    store.user("erin", password=None, backend="none", groups=[])
    store.token("erin", "hotp")
    now = time.time()
    with store.ctx.db.session() as s, s.begin():
        lock(s, "source", "198.51.100.1 erin", "auto", now + 600, "test", now)  # per user at a NAT
        lock(s, "source", "203.0.113.9", "auto", now + 600, "test", now)  # the address itself
    shared = store.engine(lockout={"shared_sources": ["198.51.100.0/24"]})
    plain = store.engine()
    refused = store.login(shared, "erin", RFC4226_CODES[0], source="198.51.100.1")
    assert refused.outcome is Outcome.REJECT and refused.reason == "source locked: too many failures"
    # Without shared_sources the address is the key, and it is not locked.
    assert store.login(plain, "erin", RFC4226_CODES[0], source="198.51.100.1").outcome is Outcome.ACCEPT
    refused = store.login(plain, "erin", RFC4226_CODES[1], source="203.0.113.9")
    assert refused.outcome is Outcome.REJECT and refused.reason == "source locked: too many failures"
    with store.ctx.db.session() as s, s.begin():
        lock(s, "user", "erin", "admin", None, "test", now)
    refused = store.login(plain, "erin", RFC4226_CODES[1], source="192.0.2.1")
    assert refused.outcome is Outcome.REJECT and refused.reason == "user locked by admin"


def test_a_rules_own_shared_sources_choose_the_key_read_with_the_user(store: Store) -> None:
    for name in ("fred", "gina"):
        store.user(name, password=None, backend="none")
        store.token(name, "hotp")
    now = time.time()
    with store.ctx.db.session() as s, s.begin():
        lock(s, "source", "198.51.100.1 fred", "auto", now + 600, "test", now)
    nat = {"name": "nat", "match": {"users": ["fred"]}, "lockout": {"shared_sources": ["198.51.100.0/24"]}}
    engine = store.engine(rules=[nat])
    refused = store.login(engine, "fred", RFC4226_CODES[0], source="198.51.100.1")
    assert refused.outcome is Outcome.REJECT and refused.reason == "source locked: too many failures"
    # gina matches no rule: the address itself is her key, and it is not locked.
    assert store.login(engine, "gina", RFC4226_CODES[0], source="198.51.100.1").outcome is Outcome.ACCEPT
