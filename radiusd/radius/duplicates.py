"""RFC 5080 section 2.2.2 duplicate detection, per process and in memory.

An entry is keyed by (client address, port, receiving socket, code, identifier) and remembers the
request authenticator: the same authenticator is a retransmission, a new one a new request that
replaces the entry. SO_REUSEPORT hashes a client's address and port to one worker, so a
retransmission reaches the process that holds its entry.

Entries are tuples of bytes, which Python's cyclic garbage collector stops tracking after its
first look: a busy worker holds tens of thousands of them (every request of the last
`seconds`), and as objects they were scanned by every full collection, pauses of 10 to 27 ms in
the middle of serving on the bench machine.

The dict that holds them is made tracked from the start, so that the server's `gc.freeze()`
moves it to the permanent generation, which no collection scans. Left untracked, a full
collection finds it holding only untracked tuples and untracks it, the next new entry tracks it
again as a young object, and the next young collection walks every entry (tens of thousands on
a busy worker), once after every full collection.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable

Key = tuple[Hashable, ...]


class DuplicateCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[Key, tuple[bytes, bytes | None]] = {}
        """key → (request authenticator, reply or None while the request is being processed)."""
        _track(self._entries)
        self._expiry: deque[tuple[float, Key, bytes]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: Key, authenticator: bytes) -> tuple[bytes | None, bool]:
        """(None, True) for a new request, which the caller must answer() or forget() with the same
        authenticator; (reply, False) for a duplicate: the cached reply, or None while in progress."""
        self._expire()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == authenticator:
            return entry[1], False
        self._entries[key] = (authenticator, None)
        return None, True

    def answer(self, key: Key, authenticator: bytes, reply: bytes) -> None:
        if self._holds(key, authenticator):  # not replaced by a newer request meanwhile
            self._entries[key] = (authenticator, reply)
            self._expiry.append((self._clock() + self.seconds, key, authenticator))

    def forget(self, key: Key, authenticator: bytes) -> None:
        """Drop an entry that will get no reply, so that a retransmission is processed afresh."""
        if self._holds(key, authenticator):
            del self._entries[key]

    def _holds(self, key: Key, authenticator: bytes) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry[0] == authenticator

    def _expire(self) -> None:
        now, expiry = self._clock(), self._expiry
        while expiry and expiry[0][0] <= now:
            _, key, authenticator = expiry.popleft()
            if self._holds(key, authenticator):
                del self._entries[key]


def _track(entries: dict[Key, tuple[bytes, bytes | None]]) -> None:
    """Make the dict tracked by the garbage collector: a dict becomes tracked when it takes a
    tracked value (a list) and stays tracked after losing it; only a collection untracks it."""
    entries[()] = []  # type: ignore[assignment]
    del entries[()]
