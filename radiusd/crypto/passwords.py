"""Local password hashing with argon2id, and a dummy hash so unknown users cost the same time."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass(frozen=True)
class PasswordHashing:
    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 1

    @cached_property
    def _hasher(self) -> PasswordHasher:
        return PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            type=Type.ID,
        )

    @cached_property
    def dummy_hash(self) -> str:
        """A hash of nothing anyone can type, verified for unknown users to equalise timing."""
        return self._hasher.hash("\x00radiusd-no-such-user\x00")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant-time in the password; an absent hash costs the same as a present one."""
        try:
            return self._hasher.verify(stored or self.dummy_hash, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
