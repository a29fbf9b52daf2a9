"""The local backend: the argon2id hash in the store (users.password_hash)."""

from __future__ import annotations

from radiusd.backends.base import BlockingRunner, FirstFactorResult
from radiusd.crypto.passwords import PasswordHashing


class LocalBackend:
    name = "local"

    def __init__(self, hashing: PasswordHashing, timeout: float) -> None:
        self._hashing = hashing
        self._runner = BlockingRunner("backend-local", timeout)

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        # A missing hash is still verified (against the dummy hash) so that it costs the same time.
        try:
            ok = await self._runner.run(self._hashing.verify, password_hash, password)
        except TimeoutError:
            return FirstFactorResult(False, "local: password check timed out")
        if ok:
            return FirstFactorResult(True, "password ok")
        return FirstFactorResult(
            False, "local: no password set" if password_hash is None else "wrong password"
        )

    def close(self) -> None:
        self._runner.close()
