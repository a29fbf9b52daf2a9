"""Acceptance against the running RADIUS server: brute force from one address blocks that address,
not the user; an optional per-user lock that `radiusd lockout clear` lifts and that expires by itself;
two server processes sharing PostgreSQL enforce each other's locks. The audit has every reason."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pyotp
from lockout.radius_login import ACCEPT, REJECT, audit, login
from radius.radius_server import base_config, running_radiusd

PASSWORD = "Lockout-Test-pw-8841"
WRONG = "wrong password, or a wrong code"
SEED = pyotp.random_base32()
TOTP = pyotp.TOTP(SEED)


def config(tmp_path: Path, db_url: str | None = None, **lockout: Any) -> dict[str, Any]:
    data = base_config(tmp_path, db_url)
    data["lockout"] = lockout
    data["engine"] = {"totp_window": 3}  # room for several logins with increasing codes
    return data


class Codes:
    """Valid TOTP codes in increasing time steps, so that no login replays an earlier one. One step
    ahead each time: the server learns the drift from each success, so each next code is one step
    from where it now expects the clock."""

    def __init__(self) -> None:
        self.step = int(time.time()) // 30

    def next(self) -> str:
        """The code for a login that should get in (and so use the code up)."""
        self.step += 1
        return TOTP.at((self.step - 1) * 30)

    def peek(self) -> str:
        """A valid code for a login the lockout should refuse before looking at it."""
        return TOTP.at(self.step * 30)

    @staticmethod
    def wrong() -> str:
        return "000000" if TOTP.now() != "000000" else "111111"


def test_thousand_wrong_codes_block_the_address_not_the_user(tmp_path: Path) -> None:
    cfg = config(tmp_path, source_threshold=10, user_threshold=20, max_delay=0.02)
    with running_radiusd(tmp_path, users={"alice": PASSWORD}, totp={"alice": SEED}, config=cfg) as srv:
        codes = Codes()
        answers = Counter(login(srv, "alice", f"{PASSWORD},{Codes.wrong()}") for _ in range(1000))
        assert answers == {REJECT: 1000}
        # The right password and code from the hammering address: refused (blocked address).
        assert login(srv, "alice", f"{PASSWORD},{codes.peek()}") == REJECT
        # From another address: in (no per-user lock).
        assert login(srv, "alice", f"{PASSWORD},{codes.next()}", source="127.0.0.2") == ACCEPT
        locks = json.loads(srv.cli("lockout", "list", "--json").stdout)
        assert [(lk["scope"], lk["key"], lk["set_by"]) for lk in locks] == [("source", "127.0.0.1", "auto")]
        assert srv.stop() == 0  # SIGTERM: the audit still waiting in memory is written first

        rows = audit(srv, "alice", 1002, timeout=0)
        reasons = Counter((r["source"], r["result"], r["reason"]) for r in rows)
        assert reasons[("127.0.0.1", "reject", WRONG)] == 10
        assert reasons[("127.0.0.1", "reject", "source locked: too many failures")] == 991
        assert rows[-1]["source"] == "127.0.0.2" and rows[-1]["result"] == "accept"
        assert len(rows) == 1002


def test_user_lock_clear_and_expiry(tmp_path: Path) -> None:
    cfg = config(
        tmp_path, source_threshold=3, user_threshold=5, lock_user=True, lock_duration=8, max_delay=0.02
    )
    with running_radiusd(tmp_path, users={"alice": PASSWORD}, totp={"alice": SEED}, config=cfg) as srv:
        codes = Codes()
        # Wrong passwords from one address, wrong codes from another: both count for the user.
        for _ in range(3):
            assert login(srv, "alice", f"not-{PASSWORD},{Codes.wrong()}", source="127.0.0.3") == REJECT
        for _ in range(2):
            assert login(srv, "alice", f"{PASSWORD},{Codes.wrong()}", source="127.0.0.4") == REJECT
        assert login(srv, "alice", f"{PASSWORD},{codes.peek()}", source="127.0.0.5") == REJECT  # user locked
        locks = {(lk["scope"], lk["key"]) for lk in json.loads(srv.cli("lockout", "list", "--json").stdout)}
        assert locks == {("user", "alice"), ("source", "127.0.0.3")}

        assert "1 lock(s) lifted" in srv.cli("lockout", "clear", "alice").stdout
        assert login(srv, "alice", f"{PASSWORD},{codes.next()}", source="127.0.0.5") == ACCEPT

        for n in range(5):
            assert login(srv, "alice", f"{PASSWORD},{Codes.wrong()}", source=f"127.0.1.{n}") == REJECT
        assert login(srv, "alice", f"{PASSWORD},{codes.peek()}", source="127.0.0.5") == REJECT
        (lock,) = [
            lk for lk in json.loads(srv.cli("lockout", "list", "--json").stdout) if lk["scope"] == "user"
        ]
        assert lock["set_by"] == "auto" and 0 < lock["remaining_s"] <= 8
        time.sleep(lock["remaining_s"] + 1)  # nobody clears it: the lock lifts by itself
        assert login(srv, "alice", f"{PASSWORD},{codes.next()}", source="127.0.0.5") == ACCEPT

        rows = audit(srv, "alice", 14)
        assert [(r["source"], r["result"], r["reason"]) for r in rows] == [
            *[("127.0.0.3", "reject", WRONG)] * 3,
            *[("127.0.0.4", "reject", WRONG)] * 2,
            ("127.0.0.5", "reject", "user locked: too many failures"),
            ("127.0.0.5", "accept", "totp code ok"),
            *[(f"127.0.1.{n}", "reject", WRONG) for n in range(5)],
            ("127.0.0.5", "reject", "user locked: too many failures"),
            ("127.0.0.5", "accept", "totp code ok"),
        ]


def test_two_servers_sharing_postgresql_share_locks(tmp_path: Path, pg_url: str) -> None:
    settings = {"source_threshold": 3, "user_threshold": 5, "lock_user": True, "max_delay": 0.02}
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    cfg_a = {**config(a_dir, pg_url, **settings), "node": "a"}
    # B shares A's store and A's key file (the token secrets are sealed with it).
    cfg_b = {**config(b_dir, pg_url, **settings), "node": "b", "key_file": str(a_dir / "data" / "keys.json")}
    with (
        running_radiusd(a_dir, users={"alice": PASSWORD}, totp={"alice": SEED}, config=cfg_a) as a,
        running_radiusd(b_dir, config=cfg_b) as b,
    ):
        codes = Codes()  # after the slow start, so that every code is still inside the window
        assert login(b, "alice", f"{PASSWORD},{codes.next()}") == ACCEPT
        # Three failures through A block 127.0.0.1 on B as well.
        for _ in range(3):
            assert login(a, "alice", f"{PASSWORD},{Codes.wrong()}") == REJECT
        assert login(b, "alice", f"{PASSWORD},{codes.peek()}") == REJECT
        # Failures counted on both servers add up to the per-user lock.
        assert login(a, "alice", f"{PASSWORD},{Codes.wrong()}", source="127.0.0.6") == REJECT
        assert login(b, "alice", f"{PASSWORD},{Codes.wrong()}", source="127.0.0.7") == REJECT
        assert login(b, "alice", f"{PASSWORD},{codes.peek()}", source="127.0.0.8") == REJECT
        assert login(a, "alice", f"{PASSWORD},{codes.peek()}", source="127.0.0.8") == REJECT
        # Cleared through one, open on the other.
        b.cli("lockout", "clear", "alice")
        answer = login(a, "alice", f"{PASSWORD},{codes.next()}", source="127.0.0.8")
        assert answer == ACCEPT, [(r["node"], r["reason"]) for r in audit(b, "alice", 9)][-4:]

        rows = audit(b, "alice", 9)
        assert [r["reason"] for r in rows if r["result"] == "reject"][-2:] == [
            "user locked: too many failures"
        ] * 2
        assert {r["node"] for r in rows} == {"a", "b"}
