"""After `token add`, the seed is nowhere in the database: not in the SQLite file (WAL included)
nor in a pg_dump of PostgreSQL, whether written in base32, hex, base64 or as raw bytes."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pyotp
from cli_support import Radiusd
from helpers import require_program
from sqlalchemy.engine import make_url

SHARED_SECRET = "radius-shared-secret-at-rest"
HARDWARE_SEED = bytes.fromhex("00112233445566778899aabbccddeeff01234567")


def _forms(seed: bytes) -> list[bytes]:
    b32 = base64.b32encode(seed)
    forms = [seed, b32, b32.rstrip(b"="), b32.lower(), seed.hex().encode(), seed.hex().upper().encode()]
    return [*forms, base64.b64encode(seed), base64.urlsafe_b64encode(seed).rstrip(b"=")]


def _database_bytes(radiusd: Radiusd) -> bytes:
    url = make_url(radiusd.database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        files = sorted(path.parent.glob(path.name + "*"))  # the database, -wal and -shm
        assert path in files
        return b"".join(f.read_bytes() for f in files)
    plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(
        [require_program("pg_dump"), "--data-only", "--inserts", plain_url],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert b"INSERT INTO public.tokens" in dump.stdout
    return dump.stdout


def test_token_seeds_and_client_secrets_are_not_in_the_database(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", "--password-stdin", input="alice's password\n")
    out = radiusd.ok("token", "add", "alice", "totp")
    uri = re.search(r"otpauth://\S+", out)
    assert uri is not None
    generated = base64.b32decode(pyotp.parse_uri(uri.group()).secret)
    radiusd.ok("token", "add", "alice", "hotp", "--secret-hex", HARDWARE_SEED.hex())
    radiusd.ok("client", "add", "vpn", "10.0.0.1", "--secret-stdin", input=SHARED_SECRET + "\n")

    stored = _database_bytes(radiusd)

    assert b"alice" in stored  # the rows are there, so the search below looks at real data
    for seed in (generated, HARDWARE_SEED):
        for form in _forms(seed):
            assert form not in stored, f"a token seed is in the database as {form!r}"
    assert SHARED_SECRET.encode() not in stored
    assert b"alice's password" not in stored
