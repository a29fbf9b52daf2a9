"""The decision path with one-time codes typed after the password, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from engine_support import PASSWORD, Store

from radiusd.engine.types import Outcome
from radiusd.factors.yubikey import modhex_encode, seal_material
from radiusd.store.models import AuditEvent, Token

RFC4226_CODES = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583"]


def test_password_and_totp_accepted_once(store: Store) -> None:
    store.user("alice")
    totp = store.totp("alice")
    engine = store.engine()
    code = totp.now()
    first = store.login(engine, "alice", PASSWORD + code)
    assert first.outcome is Outcome.ACCEPT, first.reason
    assert first.factor == "totp"
    again = store.login(engine, "alice", PASSWORD + code)
    assert again.outcome is Outcome.REJECT
    assert "already used" in again.reason


def test_separator_form_and_password_containing_the_separator(store: Store) -> None:
    store.user("bob", password="a,b")
    store.token("bob", "hotp")
    engine = store.engine()
    assert store.login(engine, "bob", "a,b," + RFC4226_CODES[0]).outcome is Outcome.ACCEPT
    assert store.login(engine, "bob", "a,b" + RFC4226_CODES[1]).outcome is Outcome.ACCEPT


def test_hotp_ahead_by_five_accepted_then_older_codes_refused(store: Store) -> None:
    store.user("carol")
    store.token("carol", "hotp")
    engine = store.engine()
    ahead = store.login(engine, "carol", PASSWORD + RFC4226_CODES[5])
    assert ahead.outcome is Outcome.ACCEPT, ahead.reason
    assert store.login(engine, "carol", PASSWORD + RFC4226_CODES[3]).outcome is Outcome.REJECT
    assert store.login(engine, "carol", PASSWORD + RFC4226_CODES[6]).outcome is Outcome.ACCEPT
    with store.ctx.db.session() as s:
        assert s.query(Token.counter).scalar() == 6


def test_totp_drift_is_learned(store: Store) -> None:
    store.user("dave")
    totp = store.totp("dave")
    engine = store.engine()
    if time.time() % 30 > 28:  # keep the login within the step the code was computed for
        time.sleep(30 - time.time() % 30)
    late = totp.at(time.time() - 30)
    assert store.login(engine, "dave", PASSWORD + late).outcome is Outcome.ACCEPT
    with store.ctx.db.session() as s:
        assert s.query(Token.drift).scalar() == -1


def test_yubikey_otp_accepted_and_replay_refused(store: Store) -> None:
    aes_key, private_id = bytes(range(16)), bytes.fromhex("8792ebfe26cc")
    store.user("erin")
    store.token("erin", "yubikey", secret=seal_material(aes_key, private_id), public_id="vvccccdeffgh")
    otp = "vvccccdeffgh" + yubikey_otp(aes_key, private_id, usage=5, session=1)
    engine = store.engine()
    accepted = store.login(engine, "erin", PASSWORD + otp)
    assert accepted.outcome is Outcome.ACCEPT and accepted.factor == "yubikey", accepted.reason
    replay = store.login(engine, "erin", PASSWORD + otp)
    assert replay.outcome is Outcome.REJECT and "already used" in replay.reason
    newer = "vvccccdeffgh" + yubikey_otp(aes_key, private_id, usage=5, session=2)
    assert store.login(engine, "erin", PASSWORD + newer).outcome is Outcome.ACCEPT
    older = "vvccccdeffgh" + yubikey_otp(aes_key, private_id, usage=4, session=9)
    assert store.login(engine, "erin", PASSWORD + older).outcome is Outcome.REJECT


def test_backup_code_accepted_once(store: Store) -> None:
    store.user("frank")
    codes = store.backup_codes("frank")
    engine = store.engine()
    assert store.login(engine, "frank", PASSWORD + codes[0]).outcome is Outcome.ACCEPT
    assert store.login(engine, "frank", PASSWORD + codes[0]).outcome is Outcome.REJECT
    dashed = f"{codes[1][:5]}-{codes[1][5:]}"
    assert store.login(engine, "frank", PASSWORD + "," + dashed).outcome is Outcome.ACCEPT


def test_code_sent_apart_from_the_password(store: Store) -> None:
    store.user("gina")
    totp = store.totp("gina")
    engine = store.engine()
    assert store.login(engine, "gina", PASSWORD, code=totp.now()).outcome is Outcome.ACCEPT
    assert store.login(engine, "gina", PASSWORD, code="000000").outcome is Outcome.REJECT


def test_audit_rows_hold_no_secret(store: Store) -> None:
    store.user("hank")
    totp = store.totp("hank")
    engine = store.engine()
    code = totp.now()
    store.login(engine, "hank", PASSWORD + code)
    store.login(engine, "hank", "wrong" + code)
    store.close()  # writes the audit trail
    with store.ctx.db.session() as s:
        rows = s.query(AuditEvent).all()
    assert len(rows) == 2
    for row in rows:
        text = " ".join(str(v) for v in vars(row).values())
        assert code not in text and PASSWORD not in text and "wrong" + code not in text


def yubikey_otp(aes_key: bytes, private_id: bytes, usage: int, session: int) -> str:
    """What a YubiKey with this key would type (the encoding the factor reverses)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from radiusd.factors.yubikey import crc16

    body = private_id + usage.to_bytes(2, "little") + b"\x01\x02\x03" + bytes([session]) + b"\x55\xaa"
    block = body + (~crc16(body) & 0xFFFF).to_bytes(2, "little")
    encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
    return modhex_encode(encryptor.update(block) + encryptor.finalize())
