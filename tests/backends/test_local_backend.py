"""The local backend verifies argon2id hashes from the store, off the event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from radiusd.backends.select import Backends
from radiusd.config.schema import Config
from radiusd.context import Context


def test_local_password_right_wrong_and_missing(tmp_path: Path) -> None:
    data = {"data_dir": str(tmp_path), "backends": {"local": {"time_cost": 1, "memory_cost": 8}}}
    ctx = Context(Config.model_validate(data, context={"base": tmp_path}))
    backend = Backends(ctx).for_user("alice", None)
    stored = ctx.passwords.hash("correct horse")

    async def check() -> list[tuple[bool, str]]:
        results = await asyncio.gather(
            backend.verify("alice", "correct horse", stored),
            backend.verify("alice", "correct horsf", stored),
            backend.verify("alice", "", stored),
            backend.verify("nobody", "correct horse", None),
        )
        return [(r.ok, r.reason) for r in results]

    assert asyncio.run(check()) == [
        (True, "password ok"),
        (False, "wrong password"),
        (False, "wrong password"),
        (False, "local: no password set"),
    ]
