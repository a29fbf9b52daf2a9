"""Acceptance against the running RADIUS server: a trusted-network rule lets the password alone in
from that network and asks for the code from anywhere else; a deny rule refuses a network."""

from __future__ import annotations

from pathlib import Path

import pyotp
from lockout.radius_login import ACCEPT, CHALLENGE, REJECT, audit, login
from radius.radius_server import base_config, running_radiusd

PASSWORD = "Rules-Test-pw-5521"
SEED = pyotp.random_base32()


def test_trusted_network_skips_the_code_only_there(tmp_path: Path) -> None:
    cfg = base_config(tmp_path)
    cfg["rules"] = [
        {"name": "quarantine", "priority": 1, "action": "deny", "match": {"networks": ["127.0.9.0/24"]}},
        {
            "name": "office",
            "priority": 10,
            "action": "skip",
            "match": {"networks": ["127.0.0.2/32", "::1/128"]},
        },
    ]
    with running_radiusd(tmp_path, users={"alice": PASSWORD}, totp={"alice": SEED}, config=cfg) as srv:
        assert login(srv, "alice", PASSWORD, source="127.0.0.2") == ACCEPT
        # Elsewhere the password alone is not enough: a challenge for the code (or a reject).
        assert login(srv, "alice", PASSWORD, source="127.0.0.1") in (CHALLENGE, REJECT)
        assert login(srv, "alice", f"{PASSWORD},{pyotp.TOTP(SEED).now()}", source="127.0.0.1") == ACCEPT
        # The trusted network still needs the right password.
        assert login(srv, "alice", "not-the-password", source="127.0.0.2") == REJECT
        # A denied network gets nothing, even with the right password and code.
        assert login(srv, "alice", f"{PASSWORD},{pyotp.TOTP(SEED).now()}", source="127.0.9.9") == REJECT

        rows = audit(srv, "alice", 5)
        assert [(r["source"], r["result"]) for r in rows] == [
            ("127.0.0.2", "accept"),
            ("127.0.0.1", rows[1]["result"]),
            ("127.0.0.1", "accept"),
            ("127.0.0.2", "reject"),
            ("127.0.9.9", "reject"),
        ]
        assert "office" in rows[0]["reason"] and rows[0]["factor"] == "password"
        assert rows[1]["result"] in ("challenge", "reject") and rows[2]["factor"] == "totp"
        assert rows[4]["reason"] == "denied by rule quarantine"
