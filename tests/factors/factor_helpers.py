"""Token records for factor tests, sealed by a throw-away key ring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radiusd.crypto.keyring import PURPOSE_TOKEN, Keyring
from radiusd.factors.base import TokenRecord


def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keys.json")


def token(
    ring: Keyring, kind: str, secret: bytes, counter: int = -1, drift: int = 0, **params: Any
) -> TokenRecord:
    return TokenRecord(
        id=1,
        type=kind,
        secret_enc=ring.encrypt(secret, PURPOSE_TOKEN),
        params=params,
        counter=counter,
        drift=drift,
    )
