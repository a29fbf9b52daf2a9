"""Backup codes: ten single-use codes, stored hashed, printed once by `radiusd token add USER backup`.

Hashing: HMAC-SHA256 keyed by a random 32-byte key per backup token, sealed by the key ring in
tokens.secret_enc. A copy of the database alone therefore cannot be searched for the codes (the key
is not in it), checking a code costs one HMAC rather than ten argon2 runs on the hot path, and the
key follows `radiusd key rotate` like every other token secret.

A code is 10 characters from an alphabet without look-alikes (no 0/o, 1/l/i), about 49 bits,
shown as "abcde-fghjk"; case, spaces and dashes are ignored when typed. Unused hashes are loaded
with the token (TokenRecord.items), so a typed code is recognised without another query and the
consume `UPDATE token_items SET used_at … WHERE value_hash=… AND used_at IS NULL` decides.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import ClassVar

from radiusd.crypto.keyring import Keyring
from radiusd.factors.base import Factor, Match, TokenRecord

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_LENGTH = 10
COUNT = 10


def normalise(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


def generate_codes(count: int = COUNT) -> list[str]:
    return ["".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH)) for _ in range(count)]


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def hash_code(key: bytes, code: str) -> str:
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).hexdigest()


def new_key() -> bytes:
    return secrets.token_bytes(32)


class BackupFactor(Factor):
    name: ClassVar[str] = "backup"

    def code_lengths(self, token: TokenRecord) -> tuple[int, ...]:
        return (CODE_LENGTH, CODE_LENGTH + 1)  # with or without the dash

    def match(self, token: TokenRecord, code: str, now: float, keyring: Keyring) -> Match | None:
        code = normalise(code)
        if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
            return None
        typed = hash_code(token.secret(keyring), code)
        found = None
        for stored in token.items:  # every one compared, in constant time
            if hmac.compare_digest(stored, typed):
                found = stored
        return Match(token.id, item_hash=found) if found is not None else None
