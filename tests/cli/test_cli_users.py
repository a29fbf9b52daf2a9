"""`radiusd user …` and `radiusd group …`."""

from __future__ import annotations

import json

from cli_support import Radiusd
from sqlalchemy import select

from radiusd.crypto.passwords import PasswordHashing
from radiusd.store.models import User

FAST = PasswordHashing(time_cost=1, memory_cost=8)


def _password_hash(radiusd: Radiusd, name: str) -> str | None:
    db = radiusd.database()
    try:
        with db.session() as s:
            return s.scalar(select(User.password_hash).where(User.name == name))
    finally:
        db.close()


def test_user_lifecycle(radiusd: Radiusd) -> None:
    radiusd.ok("group", "add", "vpn")
    out = radiusd.ok(
        "user", "add", "alice", "--password-stdin", "--email", "alice@example.org", "--group", "vpn",
        input="correct horse\n",
    )  # fmt: skip
    assert out == "user alice added\n"
    assert FAST.verify(_password_hash(radiusd, "alice"), "correct horse")

    [alice] = json.loads(radiusd.ok("user", "list", "--json"))
    assert alice | {"created_at": 0} == {
        "name": "alice",
        "enabled": True,
        "backend": None,
        "email": "alice@example.org",
        "phone": None,
        "groups": ["vpn"],
        "tokens": 0,
        "password": True,
        "created_at": 0,
    }
    assert "alice@example.org" in radiusd.ok("user", "list")

    radiusd.ok("user", "disable", "alice")
    assert json.loads(radiusd.ok("user", "show", "alice", "--json"))["enabled"] is False
    radiusd.ok("user", "enable", "alice")
    assert "enabled     yes" in radiusd.ok("user", "show", "alice")

    radiusd.ok("user", "passwd", "alice", "--password-stdin", input="new password\n")
    assert FAST.verify(_password_hash(radiusd, "alice"), "new password")
    radiusd.ok("user", "passwd", "alice", input="typed twice\ntyped twice\n")
    assert FAST.verify(_password_hash(radiusd, "alice"), "typed twice")

    assert radiusd.ok("user", "delete", "alice") == "user alice deleted\n"
    assert radiusd.ok("user", "list", "--json") == "[]\n"


def test_user_add_asks_for_a_local_password_twice_but_not_for_other_backends(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", input="first secret\nfirst secret\n")
    assert FAST.verify(_password_hash(radiusd, "alice"), "first secret")
    radiusd.ok("user", "add", "bob", "--backend", "pam")
    radiusd.ok("user", "add", "carol", "--no-password")
    assert _password_hash(radiusd, "bob") is None and _password_hash(radiusd, "carol") is None
    # Two different entries: asked again; with no more input the command gives up.
    result = radiusd("user", "add", "dave", input="one\ntwo\n")
    assert result.exit_code == 1 and "do not match" in result.stderr


def test_user_bad_input(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", "--no-password")
    assert radiusd.fails("user", "add", "alice", "--no-password") == "Error: user alice already exists"
    assert radiusd.fails("user", "show", "bob") == "Error: no such user: bob"
    assert radiusd.fails("user", "disable", "bob") == "Error: no such user: bob"
    assert radiusd.fails("user", "delete", "bob") == "Error: no such user: bob"
    assert (
        radiusd.fails("user", "passwd", "bob", "--password-stdin", input="x\n") == "Error: no such user: bob"
    )
    assert (
        radiusd.fails("user", "add", "bob", "--group", "nope", "--no-password")
        == "Error: no such group: nope"
    )
    assert radiusd.fails("user", "add", "bob", "--password-stdin", input="") == "Error: no password on stdin"
    assert radiusd.fails("user", "add", "", "--no-password") == "Error: invalid user name: ''"


def test_groups_and_members(radiusd: Radiusd) -> None:
    radiusd.ok("user", "add", "alice", "--no-password")
    radiusd.ok("group", "add", "admins", "--description", "Operations")
    assert radiusd.ok("group", "add-member", "admins", "alice") == "alice added to admins\n"
    assert json.loads(radiusd.ok("group", "list", "--json")) == [
        {"name": "admins", "description": "Operations", "members": ["alice"]}
    ]
    assert radiusd.ok("group", "list").splitlines()[1].split() == ["admins", "alice", "Operations"]
    assert radiusd.fails("group", "add-member", "admins", "alice") == (
        "Error: user alice is already a member of admins"
    )
    radiusd.ok("group", "remove-member", "admins", "alice")
    assert (
        radiusd.fails("group", "remove-member", "admins", "alice")
        == "Error: user alice is not a member of admins"
    )
    assert radiusd.fails("group", "add", "admins") == "Error: group admins already exists"
    radiusd.ok("group", "delete", "admins")
    assert radiusd.fails("group", "delete", "admins") == "Error: no such group: admins"
    assert radiusd.ok("group", "list") == "(none)\n"
