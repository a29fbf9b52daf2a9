"""The `none` backend: code-only logins, where the one-time code is the only factor."""

from __future__ import annotations

from radiusd.backends.base import FirstFactorResult


class NoFirstFactor:
    name = "none"

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        return FirstFactorResult(True, "no first factor")

    def close(self) -> None:
        pass


class UnavailableBackend:
    """Stands in for a backend that is named (per user or realm) but not configured: always a reject."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self._reason = reason

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        return FirstFactorResult(False, self._reason)

    def close(self) -> None:
        pass
