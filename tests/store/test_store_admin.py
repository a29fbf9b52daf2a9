"""The administration queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from radiusd.crypto.keyring import PURPOSE_CLIENT, PURPOSE_TOKEN, Keyring
from radiusd.store import admin
from radiusd.store.admin import AdminError
from radiusd.store.database import Database
from radiusd.store.models import Membership, Token


def test_users_are_added_listed_changed_and_deleted(db: Database) -> None:
    with db.sessions.begin() as s:
        admin.add_group(s, "staff")
        admin.add_user(s, "alice", password_hash="$argon2id$x", email="a@example.org", groups=["staff"])
        admin.add_user(s, "bob", backend="ldap")
    with db.sessions.begin() as s:
        rows = admin.list_users(s)
    assert [r["name"] for r in rows] == ["alice", "bob"]
    assert rows[0]["groups"] == ["staff"] and rows[0]["password"] is True and rows[0]["enabled"] is True
    assert rows[1]["backend"] == "ldap" and rows[1]["password"] is False

    with db.sessions.begin() as s:
        admin.set_user_enabled(s, "alice", False)
        admin.set_password(s, "alice", "$argon2id$y")
    with db.sessions.begin() as s:
        alice = admin.get_user(s, "alice")
        assert (alice.enabled, alice.password_hash) == (False, "$argon2id$y")
        admin.delete_user(s, "alice")
    with db.sessions.begin() as s:
        assert [r["name"] for r in admin.list_users(s)] == ["bob"]
        assert s.scalar(select(func.count()).select_from(Membership)) == 0


BAD_INPUT = [
    (lambda s: admin.add_user(s, "alice"), "user alice already exists"),
    (lambda s: admin.add_user(s, "carol", groups=["nope"]), "no such group: nope"),
    (lambda s: admin.add_user(s, " padded"), "invalid user name: ' padded'"),
    (lambda s: admin.add_user(s, "dave", backend="kerberos"), "unknown backend 'kerberos'"),
    (lambda s: admin.get_user(s, "nobody"), "no such user: nobody"),
    (lambda s: admin.add_group(s, "staff"), "group staff already exists"),
    (lambda s: admin.add_member(s, "staff", "alice"), "user alice is already a member of staff"),
    (lambda s: admin.remove_member(s, "staff", "nobody"), "no such user: nobody"),
    (lambda s: admin.delete_group(s, "nope"), "no such group: nope"),
    (lambda s: admin.remove_radius_client(s, "nope"), "no such client: nope"),
    (lambda s: admin.remove_token(s, 999), "no such token: 999"),
]


def test_bad_input_is_refused_with_a_clear_message(db: Database) -> None:
    with db.sessions.begin() as s:
        admin.add_group(s, "staff")
        admin.add_user(s, "alice", groups=["staff"])
    for action, message in BAD_INPUT:
        with pytest.raises(AdminError) as info, db.sessions.begin() as s:
            action(s)
        assert str(info.value).startswith(message)


def test_group_membership(db: Database) -> None:
    with db.sessions.begin() as s:
        admin.add_user(s, "alice")
        admin.add_group(s, "vpn", "VPN users")
        admin.add_member(s, "vpn", "alice")
    with db.sessions.begin() as s:
        assert admin.list_groups(s) == [{"name": "vpn", "description": "VPN users", "members": ["alice"]}]
        admin.remove_member(s, "vpn", "alice")
    with db.sessions.begin() as s:
        assert admin.list_groups(s)[0]["members"] == []
        admin.delete_group(s, "vpn")
    with db.sessions.begin() as s:
        assert admin.list_groups(s) == []


def test_radius_clients_keep_their_secret_sealed(db: Database, keyring: Keyring) -> None:
    options = {"require_message_authenticator": True, "limit_proxy_state": False}
    with db.sessions.begin() as s:
        client = admin.add_radius_client(s, keyring, "vpn", "192.0.2.7/24", "s3cret-shared-value", options)
        assert client.address == "192.0.2.0/24"
        assert "s3cret" not in client.secret_enc
        assert keyring.decrypt(client.secret_enc, PURPOSE_CLIENT) == b"s3cret-shared-value"
    with db.sessions.begin() as s:
        assert admin.list_radius_clients(s)[0] | {"created_at": 0} == {
            "name": "vpn",
            "address": "192.0.2.0/24",
            "created_at": 0,
            **options,
        }
        assert admin.radius_client_settings(s, keyring) == [
            {"name": "vpn", "address": "192.0.2.0/24", "secret": "s3cret-shared-value", **options}
        ]
        with pytest.raises(AdminError, match=re.escape("not an IP address or CIDR network: '10.0.0.0/33'")):
            admin.add_radius_client(s, keyring, "bad", "10.0.0.0/33", "x" * 20)
        with pytest.raises(AdminError, match="client vpn already exists"):
            admin.add_radius_client(s, keyring, "vpn", "10.0.0.1", "x" * 20)


def test_tokens_are_enrolled_listed_switched_and_removed(db: Database, keyring: Keyring) -> None:
    seed = bytes(range(20))
    with db.sessions.begin() as s:
        admin.add_user(s, "alice")
        admin.add_user(s, "bob")
        first = admin.add_token(s, keyring, "alice", "totp", secret=seed, params={"digits": 6}).id
        admin.add_token(s, keyring, "bob", "hotp", secret=seed, params={"digits": 8}, counter=4)
    with db.sessions.begin() as s:
        assert [(t["user"], t["type"]) for t in admin.list_tokens(s)] == [("alice", "totp"), ("bob", "hotp")]
        assert [t["id"] for t in admin.list_tokens(s, "alice")] == [first]
        stored = s.get(Token, first)
        assert stored is not None and stored.secret_enc is not None
        assert keyring.decrypt(stored.secret_enc, PURPOSE_TOKEN) == seed
        admin.set_token_enabled(s, first, False)
    with db.sessions.begin() as s:
        assert admin.list_tokens(s, "alice")[0]["enabled"] is False
        admin.remove_token(s, first)
    with db.sessions.begin() as s:
        assert admin.list_tokens(s, "alice") == []
        admin.delete_user(s, "bob")  # takes bob's token with it
    with db.sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Token)) == 0
