"""Which backend checks a password: the user's own, else the realm's, else the default."""

from __future__ import annotations

import asyncio
from pathlib import Path

from radiusd.backends.select import Backends
from radiusd.config.schema import Config
from radiusd.context import Context


def backends(tmp_path: Path, **section: object) -> Backends:
    data = {"data_dir": str(tmp_path), "backends": {"local": {"time_cost": 1, "memory_cost": 8}, **section}}
    return Backends(Context(Config.model_validate(data, context={"base": tmp_path})))


def test_user_backend_wins_over_realm_and_default(tmp_path: Path) -> None:
    b = backends(tmp_path, default="pam", realms={"example.org": "none"})
    assert b.name_for("alice@example.org", "local") == "local"
    assert b.name_for("alice@EXAMPLE.org", None) == "none"
    assert b.name_for("alice@other.org", None) == "pam"
    assert b.name_for("alice", None) == "pam"
    assert b.for_user("alice", "local") is b.get("local")


def test_unconfigured_or_unknown_backend_rejects_with_reason(tmp_path: Path) -> None:
    b = backends(tmp_path)
    ldap = asyncio.run(b.for_user("alice", "ldap").verify("alice", "pw", None))
    assert not ldap.ok and ldap.reason == "ldap: backend not configured (backends.ldap)"
    odd = asyncio.run(b.for_user("alice", "kerberos").verify("alice", "pw", None))
    assert not odd.ok and "unknown first-factor backend 'kerberos'" in odd.reason


def test_none_backend_accepts_code_only_logins(tmp_path: Path) -> None:
    result = asyncio.run(backends(tmp_path, default="none").for_user("alice", None).verify("alice", "", None))
    assert result.ok and result.reason == "no first factor"
