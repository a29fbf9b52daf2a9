"""50 concurrent logins with the same valid TOTP code: exactly one accept, on SQLite and PostgreSQL.

Two engines with their own connection pools stand for two workers; every login sees the token's
counter before anyone consumed it, so all 50 reach the compare-and-set and the store decides.
"""

from __future__ import annotations

import asyncio
import time

from engine_support import PASSWORD, Store, request

from radiusd.engine.types import Decision, Outcome


def test_fifty_concurrent_logins_with_one_code_accept_once(store: Store) -> None:
    store.user("alice")
    totp = store.totp("alice")
    engines = [store.engine(), store.engine()]
    if time.time() % 30 > 25:  # the whole burst within the code's window
        time.sleep(30 - time.time() % 30)
    code = totp.now()

    async def burst() -> list[Decision]:
        logins = [engines[i % 2].authenticate(request("alice", PASSWORD + code)) for i in range(50)]
        return await asyncio.gather(*logins)

    decisions = store.run(burst())
    accepted = [d for d in decisions if d.outcome is Outcome.ACCEPT]
    assert len(accepted) == 1
    rejected = [d for d in decisions if d.outcome is Outcome.REJECT]
    assert len(rejected) == 49
    assert all("already used" in d.reason for d in rejected)
