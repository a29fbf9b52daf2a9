"""RFC 5080 section 2.2.2 duplicate detection, per process and in memory.

An entry is keyed by (client address, port, receiving socket, code, identifier) and remembers the
request authenticator: the same authenticator is a retransmission, a new one a new request that
replaces the entry. SO_REUSEPORT hashes a client's address and port to one worker, so a
retransmission reaches the process that holds its entry.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

Key = tuple[Hashable, ...]


class Entry:
    __slots__ = ("authenticator", "reply")

    def __init__(self, authenticator: bytes) -> None:
        self.authenticator = authenticator
        self.reply: bytes | None = None
        """None while the request is still being processed."""


class DuplicateCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[Key, Entry] = {}
        self._expiry: deque[tuple[float, Key, Entry]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: Key, authenticator: bytes) -> tuple[Entry, bool]:
        """(entry, True) for a new request, which the caller must answer() or forget();
        (entry, False) for a duplicate: entry.reply is the cached reply, or None while in progress."""
        self._expire()
        entry = self._entries.get(key)
        if entry is not None and entry.authenticator == authenticator:
            return entry, False
        entry = Entry(authenticator)
        self._entries[key] = entry
        return entry, True

    def answer(self, key: Key, entry: Entry, reply: bytes) -> None:
        entry.reply = reply
        if self._entries.get(key) is entry:
            self._expiry.append((self._clock() + self.seconds, key, entry))

    def forget(self, key: Key, entry: Entry) -> None:
        """Drop an entry that will get no reply, so that a retransmission is processed afresh."""
        if self._entries.get(key) is entry:
            del self._entries[key]

    def _expire(self) -> None:
        now, expiry = self._clock(), self._expiry
        while expiry and expiry[0][0] <= now:
            _, key, entry = expiry.popleft()
            if self._entries.get(key) is entry:
                del self._entries[key]
