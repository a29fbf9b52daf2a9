"""Keyring.derive: per-purpose keys by HKDF from a ring key, found again by key id after rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from radiusd.crypto.keyring import DERIVE_INFO, PURPOSE_TOKEN, Keyring, KeyringError


def test_derive_gives_the_current_key_id_and_a_stable_key_per_purpose(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    kid, key = ring.derive("one")
    assert kid == ring.current and len(key) == 32
    assert ring.derive("one") == (kid, key)
    assert Keyring.load(ring.path).derive("one") == (kid, key)  # what another process derives
    assert ring.derive("two")[1] != key
    raw = ring._keys[kid]
    assert key != raw
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVE_INFO + b"one").derive(raw)
    assert key == expected
    with pytest.raises(ValueError):
        ring.derive("")


def test_derive_from_a_named_key_after_rotation(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    old_id, old_key = ring.derive("codes")
    server = Keyring.load(ring.path)  # loaded before the rotation
    new_id = ring.rotate()
    assert ring.derive("codes")[0] == new_id and ring.derive("codes")[1] != old_key
    assert ring.derive("codes", old_id) == (old_id, old_key)
    # A server that has not seen the rotation reloads the file for the new id.
    assert server.derive("codes", new_id) == ring.derive("codes")
    with pytest.raises(KeyringError, match="unknown key id"):
        ring.derive("codes", "k00000000")


def test_encryption_is_unaffected(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    sealed = ring.encrypt(b"seed", PURPOSE_TOKEN)
    ring.derive(PURPOSE_TOKEN)
    assert ring.decrypt(sealed, PURPOSE_TOKEN) == b"seed"
