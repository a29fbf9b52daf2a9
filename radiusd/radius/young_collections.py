"""Young garbage collections on a clock, so that none of them stops the loop for long.

CPython collects its youngest generation when the container objects allocated since the last
collection outnumber those freed by 700. A serving worker keeps caches that free old entries as
fast as new requests add new ones: the duplicate cache holds the requests of the last ten
seconds, the lockout's cache of source keys drops one address for each new one. So the count
hovers near zero while the young generation fills with what each request leaves behind, and
when a collection finally comes it walks all of it. On the bench machine at 3,000 requests a
second that was 15,000 to 45,000 objects and 7 to 26 ms with the event loop stopped, about once a
second. A young collection every INTERVAL seconds walks only what that interval left: a few
hundred to a few thousand objects, under a millisecond.
"""

from __future__ import annotations

import asyncio
import gc

INTERVAL = 0.05


class YoungCollections:
    """gc.collect(0) every `interval` seconds on the loop, from start() until stop()."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = INTERVAL) -> None:
        self.loop = loop
        self.interval = interval
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval, self._collect)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _collect(self) -> None:
        gc.collect(0)
        self._timer = self.loop.call_later(self.interval, self._collect)
