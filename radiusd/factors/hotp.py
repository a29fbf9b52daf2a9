"""HOTP (RFC 4226): counter-based codes with a look-ahead window and re-synchronisation.

tokens.counter holds the last accepted counter (-1 before the first login), so the next code
expected is counter + 1; a code up to `engine.hotp_window` ahead is accepted and moves the counter
there. `resync` finds two consecutive codes within the larger `engine.hotp_resync_window`.
Token params: {"digits": 6|8, "algorithm": "sha1"|"sha256"|"sha512"}.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import pyotp

from radiusd.crypto import hashes
from radiusd.crypto.keyring import Keyring
from radiusd.crypto.prepared_hmac import PreparedHmac
from radiusd.factors.base import Factor, Match, TokenRecord, same

ALGORITHMS: dict[str, Callable[..., Any]] = {
    "sha1": hashes.sha1,
    "sha256": hashes.sha256,
    "sha512": hashes.sha512,
}
DIGITS = (6, 8)


_PACK = struct.Struct(">Q").pack
_UNPACK_U32 = struct.Struct(">I").unpack_from
_MODULUS = {6: 10**6, 8: 10**8}


class Oath:
    """A code generator for one raw seed (RFC 4226 dynamic truncation), `.at(counter)` like
    pyotp.HOTP's, on the raw bytes with no base32 round trip, the HMAC from prepared states
    (radiusd.crypto.prepared_hmac). pyotp stays for enrolment URIs; tests check the two agree."""

    __slots__ = ("_digits", "_mac", "_modulus")

    def __init__(self, secret: bytes, digits: int = 6, algorithm: str = "sha1") -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}")
        if len(secret) < 14:  # as pyotp: at least 112 bits
            raise ValueError("Secrets must be at least 112 bits after decoding")
        self._mac = PreparedHmac(secret, ALGORITHMS[algorithm])
        self._digits = int(digits)
        self._modulus = _MODULUS.get(self._digits) or 10**self._digits

    def value(self, counter: int) -> int:
        """The code at this counter as an integer (what `at` writes with leading zeros)."""
        if counter < 0:
            raise ValueError("counter must be positive")
        mac = self._mac.digest(_PACK(counter))
        offset = mac[-1] & 0x0F
        return (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % self._modulus

    def find(self, wanted: int, first: int, last: int) -> int | None:
        """The first counter in [first, last] whose value is `wanted`. `value` with the HMAC
        inlined and the four bytes unpacked in one call: a wrong code's whole window is the hot
        path's largest piece of Python (27 → 21 µs for 11 counters; tests hold it to pyotp)."""
        inner, outer = self._mac.pads
        copy_inner, copy_outer, modulus = inner.copy, outer.copy, self._modulus
        for counter in range(first, last + 1):
            hashed = copy_inner()
            hashed.update(_PACK(counter))
            signed = copy_outer()
            signed.update(hashed.digest())
            mac = signed.digest()
            if (_UNPACK_U32(mac, mac[-1] & 0x0F)[0] & 0x7FFFFFFF) % modulus == wanted:
                return counter
        return None

    def at(self, counter: int) -> str:
        return str(self.value(counter)).rjust(self._digits, "0")

    def codes(self, counters: Iterable[int]) -> list[str]:
        return [self.at(c) for c in counters]


def oath(secret: bytes, digits: int = 6, algorithm: str = "sha1") -> Oath:
    """A code generator for one seed: `oath(seed).at(counter)` is the RFC 4226 code."""
    return Oath(secret, digits, algorithm)


def oath_pyotp(secret: bytes, digits: int = 6, algorithm: str = "sha1") -> pyotp.HOTP:
    """The same generator through pyotp (enrolment URIs, and the reference the tests compare with)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    # hashlib's (OpenSSL's) constructors: the reference stays independent of radiusd.crypto.hashes.
    return pyotp.HOTP(base64.b32encode(secret).decode(), digits=digits, digest=getattr(hashlib, algorithm))


def digits_of(token: TokenRecord) -> int:
    return int(token.params.get("digits", 6))


def is_code(code: str, digits: int) -> bool:
    return len(code) == digits and code.isascii() and code.isdigit()


def find_counter(generator: Oath, code: str, first: int, last: int) -> int | None:
    """The first counter in [first, last] whose code is `code` (all digits, of the generator's
    length), compared as integers. A wrong code costs the whole window every time; a right one
    stops where it matched, so the time taken can tell only how far ahead a right code was, which
    whoever sent it knows already."""
    return generator.find(int(code), max(first, 0), last)


class HotpFactor(Factor):
    name: ClassVar[str] = "hotp"

    def code_lengths(self, token: TokenRecord) -> tuple[int, ...]:
        return (digits_of(token),)

    def match(self, token: TokenRecord, code: str, now: float, keyring: Keyring) -> Match | None:
        digits = digits_of(token)
        if not is_code(code, digits):
            return None
        generator = oath(token.secret(keyring), digits, token.params.get("algorithm", "sha1"))
        # From the last accepted counter itself, so that a replay is told apart from a wrong code.
        counter = find_counter(generator, code, token.counter, token.counter + self.engine.hotp_window)
        if counter is None:
            return None
        return Match(token.id, counter=counter, replay=counter <= token.counter)

    def resync(self, token: TokenRecord, code1: str, code2: str, keyring: Keyring) -> Match | None:
        """Two consecutive codes within the resync window: the counter moves to the second one."""
        digits = digits_of(token)
        if not (is_code(code1, digits) and is_code(code2, digits)):
            return None
        generator = oath(token.secret(keyring), digits, token.params.get("algorithm", "sha1"))
        first = token.counter + 1
        last = token.counter + self.engine.hotp_resync_window
        found = None
        for counter in range(max(first, 0), last + 1):
            if same(generator.at(counter), code1) and same(generator.at(counter + 1), code2):
                found = counter + 1
                break  # the window is large; unlike a login, resync is an admin action
        return Match(token.id, counter=found) if found is not None else None
