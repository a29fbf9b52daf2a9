"""`key rotate`: every ciphertext moves to the new key; a running server keeps reading them."""

from __future__ import annotations

from sqlalchemy import select

from radiusd.crypto.keyring import PURPOSE_CLIENT, PURPOSE_TOKEN, Keyring
from radiusd.store import admin
from radiusd.store.database import Database
from radiusd.store.models import RadiusClient, Token


def test_rotation_reseals_everything_in_batches(db: Database, keyring: Keyring) -> None:
    seeds = [bytes([i]) * 20 for i in range(7)]
    with db.sessions.begin() as s:
        admin.add_user(s, "alice")
        for seed in seeds:
            admin.add_token(s, keyring, "alice", "totp", secret=seed)
        admin.add_token(s, keyring, "alice", "backup")  # no secret: nothing to re-seal
        admin.add_radius_client(s, keyring, "vpn", "10.0.0.1", "shared-secret-value")
    server_view = Keyring.load(keyring.path)  # what a running server loaded before the rotation
    old_key = keyring.current

    new_key = keyring.rotate()
    assert admin.count_sealed(db) == 8
    batches: list[int] = []
    done = admin.reencrypt_all(db, keyring, batch_size=3, progress=batches.append)

    assert done == {"tokens": 7, "radius_clients": 1}
    assert batches == [3, 3, 1, 1]  # seven sealed tokens in threes (not the secretless one), one client
    with db.session() as s:
        token_ciphers = list(s.scalars(select(Token.secret_enc).where(Token.secret_enc.is_not(None))))
        client_cipher = s.scalar(select(RadiusClient.secret_enc))
    assert client_cipher is not None
    assert {keyring.key_id(c) for c in [*token_ciphers, client_cipher]} == {new_key} != {old_key}
    # The server's key ring has never seen the new key: it reloads the file and reads on.
    assert sorted(server_view.decrypt(c, PURPOSE_TOKEN) for c in token_ciphers if c) == sorted(seeds)
    assert server_view.decrypt(client_cipher, PURPOSE_CLIENT) == b"shared-secret-value"


def test_a_second_rotation_run_has_nothing_left_to_do(db: Database, keyring: Keyring) -> None:
    with db.sessions.begin() as s:
        admin.add_user(s, "alice")
        admin.add_token(s, keyring, "alice", "totp", secret=b"x" * 20)
    keyring.rotate()
    assert admin.reencrypt_all(db, keyring) == {"tokens": 1, "radius_clients": 0}
    assert admin.reencrypt_all(db, keyring) == {"tokens": 0, "radius_clients": 0}
