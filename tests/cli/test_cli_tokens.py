"""`radiusd token …`: enrolment (generated or imported seeds), listing, switching, removal."""

from __future__ import annotations

import base64
import json
import re
import stat
import time
from pathlib import Path

import pyotp
import pytest
from cli_support import Radiusd
from sqlalchemy import select

from radiusd.cli.tokens import TOKEN_TYPES
from radiusd.crypto.keyring import PURPOSE_TOKEN
from radiusd.store.models import Token

HARDWARE_SEED_HEX = "3132333435363738393031323334353637383930"  # RFC 4226 test seed


def _stored(radiusd: Radiusd) -> list[Token]:
    db = radiusd.database()
    try:
        with db.session() as s:
            return list(s.scalars(select(Token).order_by(Token.id)))
    finally:
        db.close()


@pytest.fixture
def alice(radiusd: Radiusd) -> Radiusd:
    radiusd.ok("user", "add", "alice", "--no-password")
    return radiusd


def test_totp_with_a_generated_seed_shows_uri_and_qr(alice: Radiusd, tmp_path: Path) -> None:
    png = tmp_path / "alice.png"
    out = alice.ok("token", "add", "alice", "totp", "--description", "phone", "--png", str(png))

    uri = re.search(r"otpauth://\S+", out)
    assert uri is not None
    totp = pyotp.parse_uri(uri.group())
    assert isinstance(totp, pyotp.TOTP) and totp.issuer == "radiusd" and totp.name == "alice"
    assert "▀" in out or "▄" in out  # the QR code drawn in the terminal
    assert png.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(png.stat().st_mode) == 0o600

    [token] = _stored(alice)
    assert (token.type, token.description, token.counter, token.enabled) == ("totp", "phone", -1, True)
    assert token.params == {"digits": 6, "algorithm": "sha1", "period": 30}
    assert alice.keyring().decrypt(token.secret_enc or "", PURPOSE_TOKEN) == base64.b32decode(totp.secret)
    # What the app will show is what the server computes from the stored seed.
    seed = alice.keyring().decrypt(token.secret_enc or "", PURPOSE_TOKEN)
    assert pyotp.TOTP(base64.b32encode(seed).decode()).now() == totp.now()


def test_totp_parameters_reach_the_uri_and_the_store(alice: Radiusd) -> None:
    out = alice.ok(
        "token", "add", "alice", "totp", "--digits", "8", "--algorithm", "sha256", "--period", "60"
    )
    uri = re.search(r"otpauth://\S+", out)
    assert uri is not None and "digits=8" in uri.group() and "period=60" in uri.group()
    assert "algorithm=SHA256" in uri.group()
    assert _stored(alice)[0].params == {"digits": 8, "algorithm": "sha256", "period": 60}


def test_hardware_seeds_are_imported_in_base32_or_hex(alice: Radiusd) -> None:
    seed = bytes.fromhex(HARDWARE_SEED_HEX)
    b32 = base64.b32encode(seed).decode().lower()
    out = alice.ok("token", "add", "alice", "totp", "--secret", f"{b32[:8]} {b32[8:]}")
    assert "otpauth://" not in out and b32 not in out.lower()  # an imported seed is never echoed
    alice.ok("token", "add", "alice", "hotp", "--secret-hex", HARDWARE_SEED_HEX, "--counter", "5")
    totp, hotp = _stored(alice)
    ring = alice.keyring()
    assert ring.decrypt(totp.secret_enc or "", PURPOSE_TOKEN) == seed
    assert ring.decrypt(hotp.secret_enc or "", PURPOSE_TOKEN) == seed
    assert (hotp.params, hotp.counter) == ({"digits": 6, "algorithm": "sha1"}, 4)  # next expected: 5


def test_hotp_generated_uri_carries_the_first_counter(alice: Radiusd) -> None:
    out = alice.ok("token", "add", "alice", "hotp", "--counter", "3")
    uri = re.search(r"otpauth://\S+", out)
    assert uri is not None and uri.group().startswith("otpauth://hotp/") and "counter=3" in uri.group()
    assert _stored(alice)[0].counter == 2


def test_token_list_enable_disable_remove(alice: Radiusd) -> None:
    alice.ok("user", "add", "bob", "--no-password")
    alice.ok("token", "add", "alice", "totp", "--description", "phone")
    alice.ok("token", "add", "bob", "hotp", "--secret-hex", HARDWARE_SEED_HEX)
    tokens = json.loads(alice.ok("token", "list", "--json"))
    assert [(t["user"], t["type"], t["description"], t["enabled"]) for t in tokens] == [
        ("alice", "totp", "phone", True),
        ("bob", "hotp", "", True),
    ]
    columns = {"id", "user", "type", "description", "enabled", "params", "created_at", "last_used_at"}
    assert all(set(t) == columns for t in tokens)
    [bobs] = json.loads(alice.ok("token", "list", "bob", "--json"))
    assert bobs["user"] == "bob" and bobs["created_at"] <= time.time()
    alice.ok("token", "disable", str(bobs["id"]))
    assert json.loads(alice.ok("token", "list", "bob", "--json"))[0]["enabled"] is False
    alice.ok("token", "enable", str(bobs["id"]))
    assert "bob    hotp  yes" in alice.ok("token", "list")
    assert alice.ok("token", "remove", str(bobs["id"])) == f"token {bobs['id']} removed\n"
    assert alice.ok("token", "list", "bob") == "(none)\n"


def test_token_bad_input(alice: Radiusd) -> None:
    assert alice.fails("token", "add", "nobody", "totp") == "Error: no such user: nobody"
    assert alice.fails("token", "add", "alice", "sms-carrier-pigeon") == (
        "Error: unknown token type 'sms-carrier-pigeon': expected one of " + ", ".join(sorted(TOKEN_TYPES))
    )
    assert alice.fails("token", "add", "alice", "totp", "--secret", "not base32!") == (
        "Error: the secret is not valid base32 (letters A-Z and digits 2-7)"
    )
    assert alice.fails("token", "add", "alice", "totp", "--secret-hex", "xyz") == (
        "Error: the secret is not valid hexadecimal"
    )
    assert alice.fails("token", "add", "alice", "totp", "--secret", "JBSWY3DPEHPK3PXP") == (
        "Error: the secret has 80 bits; at least 128 are needed"
    )
    assert (
        alice.fails("token", "add", "alice", "totp", "--counter", "3")
        == "Error: --counter applies to hotp only"
    )
    assert (
        alice.fails("token", "add", "alice", "hotp", "--period", "60")
        == "Error: --period applies to totp only"
    )
    assert alice.fails("token", "list", "nobody") == "Error: no such user: nobody"
    assert alice.fails("token", "remove", "999") == "Error: no such token: 999"
    assert alice.fails("token", "disable", "999") == "Error: no such token: 999"
    assert _stored(alice) == []
