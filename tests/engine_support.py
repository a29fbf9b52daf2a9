"""Engine test helpers: a migrated store, a key ring, and helpers to enrol and log in."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyotp
import pytest

from radiusd.config import Config
from radiusd.context import Context
from radiusd.crypto.keyring import Keyring
from radiusd.engine.engine import Engine
from radiusd.engine.types import AuthRequest, Decision
from radiusd.factors import backup
from radiusd.store import admin
from radiusd.store.models import TokenItem
from radiusd.store.schema import upgrade

PASSWORD = "correct horse"
SEED = b"12345678901234567890"
T = TypeVar("T")


def make_context(tmp_path: Path, db_url: str, **sections: Any) -> Context:
    data: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "database": {"url": db_url},
        "backends": {"local": {"time_cost": 1, "memory_cost": 8}},
        **sections,
    }
    ctx = Context(Config.model_validate(data, context={"base": tmp_path}))
    if not ctx.config.key_path.exists():
        Keyring.create(ctx.config.key_path)
    return ctx


@dataclass
class Store:
    """A migrated store with enrolment helpers, and engines over it."""

    ctx: Context
    tmp_path: Path
    runner: asyncio.Runner
    contexts: list[Context] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    def user(self, name: str, password: str | None = PASSWORD, **fields: Any) -> None:
        with self.ctx.db.sessions.begin() as s:
            hashed = self.ctx.passwords.hash(password) if password is not None else None
            admin.add_user(s, name, password_hash=hashed, **fields)

    def disable(self, name: str) -> None:
        with self.ctx.db.sessions.begin() as s:
            admin.set_user_enabled(s, name, False)

    def token(
        self, user: str, kind: str, secret: bytes | None = SEED, counter: int = -1, **params: Any
    ) -> int:
        with self.ctx.db.sessions.begin() as s:
            return admin.add_token(
                s, self.ctx.keyring, user, kind, secret=secret, params=params, counter=counter
            ).id

    def totp(self, user: str, **params: Any) -> pyotp.TOTP:
        self.token(user, "totp", **params)
        return pyotp.TOTP(base64.b32encode(SEED).decode())

    def backup_codes(self, user: str) -> list[str]:
        key, codes = backup.new_key(), backup.generate_codes()
        token_id = self.token(user, "backup", secret=key)
        with self.ctx.db.sessions.begin() as s:
            s.add_all(TokenItem(token_id=token_id, value_hash=backup.hash_code(key, c)) for c in codes)
        return codes

    def engine(self, **sections: Any) -> Engine:
        """A new engine over the same store with its own context (connection pool, key ring), as
        another worker or node would have it; `sections` override the configuration."""
        ctx = make_context(self.tmp_path, self.ctx.config.database_url, **sections)
        self.contexts.append(ctx)
        engine = Engine(ctx)
        self.engines.append(engine)
        return engine

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run on the test's one event loop (the engine's background tasks live on it)."""
        return self.runner.run(coro)

    def login(self, engine: Engine, user: str, secret: str, **fields: Any) -> Decision:
        return self.run(engine.authenticate(request(user, secret, **fields)))

    def close(self) -> None:
        for engine in self.engines:
            self.run(engine.close())
        self.engines.clear()


def request(user: str, secret: str, **fields: Any) -> AuthRequest:
    fields.setdefault("client", "vpn")
    return AuthRequest(user=user, secret=secret, frontdoor="radius", **fields)


@pytest.fixture
def store(tmp_path: Path, db_url: str) -> Iterator[Store]:
    ctx = make_context(tmp_path, db_url)
    upgrade(ctx.db)
    with asyncio.Runner() as runner:
        made = Store(ctx, tmp_path, runner)
        try:
            yield made
        finally:
            made.close()
            for other in made.contexts:
                other.close()
            ctx.close()
