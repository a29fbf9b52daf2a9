"""Splitting what was typed into a password and a code.

The code's length comes from each of the user's tokens in turn ("hunter2" + "123456" for a 6-digit
TOTP, + 44 modhex characters for a YubiKey), and with a separator configured, "password,code" is
tried first: it is split at the LAST separator, so a password may contain the separator, and a
password that ends in it is typed with it twice ("pw,,123456"). The engine then checks each
candidate code against the tokens it could belong to: a matching code tells which split is meant,
so the password is checked only once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Split:
    password: str
    code: str
    separated: bool
    """Split at the separator: the code may belong to any token, whatever its length."""


def splits(secret: str, code_lengths: Iterable[int], separator: str | None) -> list[Split]:
    """Every plausible (password, code) reading of `secret`, the separator form first."""
    out: list[Split] = []
    if separator and separator in secret:
        password, _, code = secret.rpartition(separator)
        if password and code:
            out.append(Split(password, code, True))
    for n in sorted(set(code_lengths), reverse=True):
        if 0 < n < len(secret):
            out.append(Split(secret[:-n], secret[-n:], False))
    return out
