"""Yubico OTP: the published examples of yubico-c's test-vectors.txt and ykparse(1)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from factor_helpers import keyring, token

from radiusd.config.engine import EngineConfig
from radiusd.factors.yubikey import (
    YubikeyError,
    YubikeyFactor,
    crc16,
    decrypt_otp,
    modhex_decode,
    modhex_encode,
    seal_material,
)

AES_KEY = bytes.fromhex("ecde18dbe76fbd0c33330f1c354871db")
PRIVATE_ID = bytes.fromhex("8792ebfe26cc")
PUBLIC_ID = "dteffuje"
OTP_1 = "dteffujehknhfjbrjnlnldnhcujvddbikngjrtgh"  # test-vectors.txt
OTP_2 = "dteffujedcflcindvdbrblehecuitvjkjevvehjd"  # ykparse(1) example, same key


def test_modhex_vectors() -> None:
    assert modhex_decode("dteffuje").hex() == "2d344e83"
    assert modhex_decode("hknhfjbrjnlnldnhcujvddbikngjrtgh").hex() == "69b6481c8baba2b60e8f22179b58cd56"
    assert modhex_encode(AES_KEY) == "urtubjtnuihvntcreeeecvbregfjibtn"
    assert modhex_encode(b"test") == "ifhgieif"
    with pytest.raises(YubikeyError):
        modhex_decode("abc0")


def test_published_otp_decrypts_to_the_published_fields() -> None:
    otp = decrypt_otp(OTP_1[len(PUBLIC_ID) :], AES_KEY)
    assert otp.private_id == PRIVATE_ID
    assert (otp.usage, otp.session, otp.timestamp) == (19, 17, 0x00C230)
    assert crc16(bytes.fromhex("8792ebfe26cc130030c20011c89f23c8")) == 0xF0B8


def test_second_published_otp_holds_up_and_counts_higher() -> None:
    first = decrypt_otp(OTP_1[len(PUBLIC_ID) :], AES_KEY)
    second = decrypt_otp(OTP_2[len(PUBLIC_ID) :], AES_KEY)
    assert second.private_id == PRIVATE_ID
    assert second.counter != first.counter


def test_factor_accepts_then_flags_replay(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), YubikeyFactor(EngineConfig())
    tok = token(ring, "yubikey", seal_material(AES_KEY, PRIVATE_ID), public_id=PUBLIC_ID)
    assert factor.code_lengths(tok) == (40,)
    match = factor.match(tok, OTP_1, 0, ring)
    assert match is not None and not match.replay
    assert match.counter == 19 << 8 | 17
    used = dataclasses.replace(tok, counter=match.counter)
    replay = factor.match(used, OTP_1, 0, ring)
    assert replay is not None and replay.replay


def test_factor_rejects_wrong_key_private_id_public_id_and_tampering(tmp_path: Path) -> None:
    ring, factor = keyring(tmp_path), YubikeyFactor(EngineConfig())
    good = seal_material(AES_KEY, PRIVATE_ID)
    wrong_key = token(ring, "yubikey", seal_material(bytes(16), PRIVATE_ID), public_id=PUBLIC_ID)
    wrong_uid = token(ring, "yubikey", seal_material(AES_KEY, bytes(6)), public_id=PUBLIC_ID)
    wrong_public = token(ring, "yubikey", good, public_id="cccccccc")
    tok = token(ring, "yubikey", good, public_id=PUBLIC_ID)
    assert factor.match(wrong_key, OTP_1, 0, ring) is None
    assert factor.match(wrong_uid, OTP_1, 0, ring) is None
    assert factor.match(wrong_public, OTP_1, 0, ring) is None
    tampered = OTP_1[:-1] + ("c" if OTP_1[-1] != "c" else "b")
    assert factor.match(tok, tampered, 0, ring) is None  # CRC fails
    assert factor.match(tok, OTP_1.upper(), 0, ring) is None
    assert factor.match(tok, OTP_1[:-2], 0, ring) is None
