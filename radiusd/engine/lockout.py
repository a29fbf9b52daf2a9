"""Brute-force protection kept in the store, so every worker and node sees the same counts."""

from __future__ import annotations

from radiusd.config.engine import LockoutConfig
from radiusd.context import Context


class Lockout:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def gate(self, user: str, source: str | None, settings: LockoutConfig) -> str | None:
        """The reason this attempt is refused before any secret is checked, or None to go on."""
        return None

    async def failure(self, user: str, source: str | None, settings: LockoutConfig) -> None:
        """Count a failed attempt (wrong password or wrong code)."""

    async def success(self, user: str, source: str | None) -> None:
        """A successful login."""
