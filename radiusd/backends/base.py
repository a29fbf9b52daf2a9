"""The one interface every first-factor backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FirstFactorResult:
    ok: bool
    reason: str
    """For the audit: "password ok", "wrong password", "ldap unreachable: …" (never the password)."""
    groups: tuple[str, ...] = ()
    """Groups the backend reports (LDAP), merged with the store's groups for the rules."""


class PasswordBackend(Protocol):
    name: str

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        """Check the password off the event loop, within the backend's timeout.

        `password_hash` is the store's hash (used only by the local backend). An unreachable or
        failing backend returns ok=False with the cause in `reason`: never an accept.
        """
        ...
