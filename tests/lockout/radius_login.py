"""Logins against a running `radiusd serve` from a chosen loopback address, and audit polling."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from pyrad import packet as rp
from radius.radius_client import access_request, encode, exchange
from radius.radius_server import Radiusd

ACCEPT, REJECT, CHALLENGE = rp.AccessAccept, rp.AccessReject, rp.AccessChallenge


def login(srv: Radiusd, user: str, password: str, source: str = "127.0.0.1", timeout: float = 5.0) -> int:
    """Send one Access-Request from `source` (any 127/8 address works on Linux); the reply's code."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        pkt = access_request(srv.secret, user, password)
        raw = exchange(srv.host, srv.auth_port, encode(pkt), timeout, sock=sock)
    assert raw is not None, f"no answer from the server within {timeout}s"
    reply = pkt.CreateReply(packet=raw)
    assert pkt.VerifyReply(reply, raw, enforce_ma=True), "reply does not verify"
    return int(reply.code)


def audit(srv: Radiusd, user: str, expected: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """`radiusd audit list --user USER --json`, oldest first, once `expected` rows are written
    (the audit is written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = json.loads(srv.cli("audit", "list", "--user", user, "--limit", "100000", "--json").stdout)
        if len(rows) >= expected or time.monotonic() > deadline:
            return list(reversed(rows))
        time.sleep(0.1)
