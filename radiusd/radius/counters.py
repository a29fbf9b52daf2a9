"""What the server counts (drops by reason, answers by kind) and the throttle for drop log lines."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

# Reasons a packet is dropped without an answer; each is a counter of its own.
UNKNOWN_CLIENT = "drop_unknown_client"
MALFORMED = "drop_malformed"
UNEXPECTED_CODE = "drop_unexpected_code"
BAD_AUTHENTICATOR = "drop_bad_authenticator"
MISSING_MESSAGE_AUTHENTICATOR = "drop_missing_message_authenticator"
PROXY_STATE_UNSIGNED = "drop_proxy_state_without_message_authenticator"
STOPPING = "drop_stopping"
DUPLICATE_IN_PROGRESS = "duplicate_in_progress"
DUPLICATE_RESENT = "duplicate_resent"
ERRORS = "errors"
TIMEOUTS = "timeouts"
SEND_BUFFER_FULL = "send_buffer_full"

_DESCRIPTIONS = {
    UNKNOWN_CLIENT: "packet from an address that is no configured client",
    MALFORMED: "malformed packet",
    UNEXPECTED_CODE: "packet code not served on this port",
    BAD_AUTHENTICATOR: "bad authenticator or Message-Authenticator (wrong shared secret?)",
    MISSING_MESSAGE_AUTHENTICATOR: "no Message-Authenticator, which this client must send",
    PROXY_STATE_UNSIGNED: "Proxy-State without Message-Authenticator (limit_proxy_state)",
}


class Counters(Counter[str]):
    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.items()))


class DropLog:
    """Logs a dropped packet at most once per interval per source, with the number left unlogged."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        limit: int = 10_000,
    ) -> None:
        self.logger, self.interval, self._clock, self._limit = logger, interval, clock, limit
        self._last: dict[str, tuple[float, int]] = {}

    def drop(self, reason: str, source: str, client: str | None, detail: str = "") -> None:
        now = self._clock()
        last = self._last.get(source)
        if last is not None and now - last[0] < self.interval:
            self._last[source] = (last[0], last[1] + 1)
            return
        if len(self._last) >= self._limit:
            self._prune(now)
        self._last[source] = (now, 0)
        suppressed = f" ({last[1]} more from this source not logged)" if last and last[1] else ""
        who = f"client {client!r} at {source}" if client else source
        what = _DESCRIPTIONS.get(reason, reason)
        self.logger.warning("dropped %s: %s%s%s", who, what, f": {detail}" if detail else "", suppressed)

    def _prune(self, now: float) -> None:
        self._last = {k: v for k, v in self._last.items() if now - v[0] < self.interval}
        if len(self._last) >= self._limit:
            self._last.clear()
