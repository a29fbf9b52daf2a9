"""Recently successful user binds, so an application that binds twice per login is not refused.

Keyed by client address, DN and a keyed hash of the whole typed secret (password+code): a cache hit
needs the very same secret from the very same address within the TTL. The key is random per
process, so the memory holds nothing that could be checked offline against guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time


class BindCache:
    def __init__(self, ttl: float, max_entries: int = 10000) -> None:
        self.ttl = ttl
        self._max = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, float] = {}

    def _id(self, address: str, dn: str, secret: str) -> bytes:
        material = "\x00".join((address, dn.lower(), secret)).encode()
        return hmac.new(self._key, material, hashlib.sha256).digest()

    def hit(self, address: str, dn: str, secret: str) -> bool:
        if self.ttl <= 0:
            return False
        expires = self._entries.get(self._id(address, dn, secret))
        return expires is not None and expires > time.monotonic()

    def add(self, address: str, dn: str, secret: str) -> None:
        if self.ttl <= 0:
            return
        now = time.monotonic()
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v > now}
            if len(self._entries) >= self._max:  # still full of live entries: forget the oldest
                self._entries.pop(next(iter(self._entries)))
        self._entries[self._id(address, dn, secret)] = now + self.ttl
