"""The stored form of a sent code: a keyed HMAC bound to the challenge, checked after key rotation."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from radiusd.crypto.keyring import Keyring
from radiusd.factors.base import code_hash_matches, code_identity, hash_code

ALICE = code_identity(7, 3, "n0nce")


def test_a_code_is_stored_as_a_keyed_hash_naming_its_key(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    stored = hash_code(ring, "482913", ALICE)
    assert re.fullmatch(rf"h1\.{ring.current}\.[0-9a-f]{{64}}", stored)
    assert "482913" not in stored
    assert code_hash_matches(ring, stored, "482913", ALICE)
    assert code_hash_matches(ring, stored, " 482913\n", ALICE)  # typed with spaces around
    assert not code_hash_matches(ring, stored, "482914", ALICE)
    # Bound to the challenge: another user, token or nonce does not match.
    for other in (code_identity(8, 3, "n0nce"), code_identity(7, 4, "n0nce"), code_identity(7, 3, "x")):
        assert not code_hash_matches(ring, stored, "482913", other)


def test_a_database_copy_alone_cannot_test_a_guess(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    other = Keyring.create(tmp_path / "other-keys.json")
    stored = hash_code(ring, "482913", ALICE)
    mac = stored.rsplit(".", 1)[1]
    # Not a plain hash of the code or of identity and code: those a million guesses would reverse.
    for unkeyed in (b"482913", ALICE.encode() + b"\0482913"):
        assert mac != hashlib.sha256(unkeyed).hexdigest()
    # Another key ring (an attacker's guess at the key) does not reproduce or accept it.
    assert hash_code(other, "482913", ALICE).rsplit(".", 1)[1] != mac
    forged = stored.replace(ring.current, other.current)
    assert not code_hash_matches(other, stored, "482913", ALICE)
    assert not code_hash_matches(ring, forged, "482913", ALICE)


def test_a_code_hashed_before_a_rotation_is_checked_after_it(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    server = Keyring.load(ring.path)  # a running server that hashed the code
    before = hash_code(server, "123456", ALICE)
    new_id = ring.rotate()
    after = hash_code(ring, "123456", ALICE)
    assert after.split(".")[1] == new_id != before.split(".")[1]
    assert code_hash_matches(ring, before, "123456", ALICE)
    assert code_hash_matches(server, after, "123456", ALICE)  # reloads the file for the new key


def test_other_forms_never_match(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "keys.json")
    sealed = ring.encrypt(b"123456", "token-secret")  # the former AES-GCM form
    for stored in (sealed, "", "h1", "h1..", "h1.k00000000." + "0" * 64, "h2.x.y"):
        assert not code_hash_matches(ring, stored, "123456", ALICE)
