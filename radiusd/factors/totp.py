"""TOTP (RFC 6238): time-based codes, one step of tolerance each way by default, drift learned.

tokens.counter holds the last accepted time step, so a code is good once; tokens.drift holds the
clock difference (in steps) seen at the last success, and the window is centred on it, so a token
whose clock slowly runs off is followed. Token params: {"digits": 6|8, "algorithm": "sha1"|"sha256"|
"sha512", "period": 30|60}.
"""

from __future__ import annotations

from typing import ClassVar

from radiusd.crypto.keyring import Keyring
from radiusd.factors.base import Factor, Match, TokenRecord
from radiusd.factors.hotp import digits_of, is_code, oath

PERIODS = (30, 60)


class TotpFactor(Factor):
    name: ClassVar[str] = "totp"

    def code_lengths(self, token: TokenRecord) -> tuple[int, ...]:
        return (digits_of(token),)

    def match(self, token: TokenRecord, code: str, now: float, keyring: Keyring) -> Match | None:
        digits = digits_of(token)
        if not is_code(code, digits):
            return None
        generator = oath(token.secret(keyring), digits, token.params.get("algorithm", "sha1"))
        step_now = int(now // int(token.params.get("period", 30)))
        centre = step_now + token.drift
        window = self.engine.totp_window
        wanted = int(code)
        found = None
        # Every step of the window (three by default), compared as integers; the latest step
        # that matches wins.
        for step in range(centre - window, centre + window + 1):
            if step >= 0 and generator.value(step) == wanted:
                found = step
        if found is None:
            return None
        return Match(token.id, counter=found, drift=found - step_now, replay=found <= token.counter)
