"""The run-wide secret scan itself: it finds a planted secret, and it is watching this run."""

from __future__ import annotations

import logging

import pyotp
from audit import secret_scan
from audit.secret_scan import COLLECTOR, Collector
from pyrad import packet

from radiusd.crypto.passwords import PasswordHashing


def test_a_planted_secret_is_found_and_not_printed() -> None:
    c = Collector()
    c.register("Tr0ub4dor&3", "test password")
    c.register("482913", "test code")
    c.register("pw", "too short to search")
    c.register("challenge", "a word the product prints itself")
    c.add_text("server.log:7", "login of alice: password Tr0ub4dor&3 rejected")
    c.add_text("server.log:8", "at=1718482913.25 latency=0.482913")  # digits around: not the code
    c.add_text("server.log:9", "challenge answered by pw holder")
    c.add_audit_rows("audit row", [(1, "alice", "reject", "wrong code 482913")])
    found = c.find()
    assert [(f.label, f.where) for f in found] == [
        ("test password", "server.log:7"),
        ("test code", "audit row"),
    ]
    assert all("Tr0ub4dor&3" not in f.excerpt and "482913" not in f.excerpt for f in found)
    assert set(c.searchable()) == {"Tr0ub4dor&3", "482913"}


def test_scan_is_armed_and_watching_this_run() -> None:
    secret_scan.arm()  # a run that includes this test fails if the scan collected nothing
    logging.getLogger("radiusd.secret_scan_probe").debug("probe record %d", 42)
    assert ("log record radiusd.secret_scan_probe", "probe record 42\n") in COLLECTOR.texts

    pkt = packet.AuthPacket(secret=b"s3cret-for-tests")
    pkt.PwCrypt("typed-over-radius-91")
    code = pyotp.TOTP(pyotp.random_base32()).now()
    PasswordHashing(1, 8, 1).hash("hashed-in-process-77")
    for value in ("typed-over-radius-91", code, "hashed-in-process-77"):
        assert value in COLLECTOR.secrets
