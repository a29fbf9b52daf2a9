"""`radiusd init`, `db upgrade` and `key rotate`."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from pathlib import Path

from cli_support import Radiusd, make_radiusd
from sqlalchemy import select

from radiusd.crypto.keyring import PURPOSE_CLIENT, PURPOSE_TOKEN
from radiusd.store.models import RadiusClient, Token

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_creates_a_private_data_directory_key_file_and_database(tmp_path: Path) -> None:
    run = make_radiusd(tmp_path, None)
    out = run.ok("init")
    assert "key file" in out and "(created)" in out and "schema 0001" in out
    assert _mode(run.data_dir) == 0o700
    assert _mode(run.data_dir / "keys.json") == 0o600
    assert _mode(run.data_dir / "radiusd.db") == 0o600


def test_init_again_keeps_the_key_file(tmp_path: Path) -> None:
    run = make_radiusd(tmp_path, None)
    run.ok("init", "--quiet")
    keys = (run.data_dir / "keys.json").read_bytes()
    assert run.ok("init", "--quiet") == ""
    assert "(kept)" in run.ok("init")
    assert (run.data_dir / "keys.json").read_bytes() == keys


def test_db_upgrade_migrates_and_admin_commands_refuse_an_old_schema(tmp_path: Path, db_url: str) -> None:
    run = make_radiusd(tmp_path, db_url)
    assert run.fails("user", "list") == (
        "Error: the database schema is at nothing (empty database), this radiusd needs 0001: "
        "run 'radiusd db upgrade'"
    )
    assert run.ok("db", "upgrade") == "database schema at 0001\n"
    assert run.ok("user", "list") == "(none)\n"


def test_key_rotate_reencrypts_every_secret(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", "--no-password")
    radiusd.ok("token", "add", "alice", "totp", "--secret", SEED)
    radiusd.ok("client", "add", "vpn", "10.1.2.3", "--secret-stdin", input="a-long-shared-secret\n")
    before = radiusd.keyring()

    report = json.loads(radiusd.ok("key", "rotate", "--json"))

    after = radiusd.keyring()
    assert report == {"key_id": after.current, "reencrypted_tokens": 1, "reencrypted_radius_clients": 1}
    assert after.current != before.current
    db = radiusd.database()
    try:
        with db.session() as s:
            token_cipher = s.scalar(select(Token.secret_enc))
            client_cipher = s.scalar(select(RadiusClient.secret_enc))
    finally:
        db.close()
    assert token_cipher and client_cipher
    assert after.key_id(token_cipher) == after.key_id(client_cipher) == after.current
    # A server that loaded the key file before the rotation still opens the new ciphertexts.
    assert before.decrypt(token_cipher, PURPOSE_TOKEN) == base64.b32decode(SEED)
    assert before.decrypt(client_cipher, PURPOSE_CLIENT) == b"a-long-shared-secret"


def test_key_rotate_in_two_steps_for_nodes_with_their_own_key_file(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", "--no-password")
    radiusd.ok("token", "add", "alice", "totp", "--secret", SEED)
    first = radiusd.keyring().current

    staged = json.loads(radiusd.ok("key", "rotate", "--stage", "--json"))

    # Staging seals nothing under the new key: the copy every node receives already holds it.
    copy = radiusd.keyring()
    assert staged == {"staged_key_id": staged["staged_key_id"], "current_key_id": first}
    assert copy.current == first and staged["staged_key_id"] != first
    report = json.loads(radiusd.ok("key", "rotate", "--activate", staged["staged_key_id"], "--json"))
    assert report["key_id"] == staged["staged_key_id"] == radiusd.keyring().current
    assert report["reencrypted_tokens"] == 1
    db = radiusd.database()
    try:
        with db.session() as s:
            token_cipher = s.scalar(select(Token.secret_enc))
    finally:
        db.close()
    assert token_cipher and copy.key_id(token_cipher) == staged["staged_key_id"]
    # The node's copy taken after --stage opens it without rereading the file.
    copy.path = radiusd.data_dir / "no-such-file"
    assert copy.decrypt(token_cipher, PURPOSE_TOKEN) == base64.b32decode(SEED)
    assert radiusd.fails("key", "rotate", "--activate", "kdeadbeef").startswith("Error: ")


def test_serve_refuses_a_database_that_was_not_upgraded(tmp_path: Path) -> None:
    run = make_radiusd(tmp_path, None)
    run.data_dir.mkdir()
    radiusd = Path(sys.executable).with_name("radiusd")
    result = subprocess.run(
        [str(radiusd), "-c", str(run.config), "serve", "--auth-port", "0", "--acct-port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: the database schema is at nothing (empty database), this radiusd needs 0001: "
        "run 'radiusd db upgrade'"
    )
