"""Acceptance against FreeRADIUS's radclient and the real engine with TOTP, over loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from helpers import require_program
from radius.radius_client import access_request, encode, exchange
from radius.radius_server import SECRET, Radiusd, base_config, running_radiusd
from sqlalchemy import create_engine, text

TOTP = pyotp.random_base32()
PASSWORD = "correct horse"


@pytest.fixture(scope="module")
def radclient() -> str:
    return require_program("radclient")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radiusd]:
    tmp = tmp_path_factory.mktemp("radclient")
    config = base_config(tmp)
    # Only 127.0.0.1 is a client: 127.0.0.2 is an unknown source.
    config["radius"]["clients"] = [{"name": "nas1", "address": "127.0.0.1", "secret": SECRET}]
    users = {"alice": PASSWORD, "bob": PASSWORD, "carol": PASSWORD}
    with running_radiusd(tmp, users=users, totp=dict.fromkeys(users, TOTP), config=config) as srv:
        yield srv


def radclient_send(
    radclient: str, srv: Radiusd, kind: str, lines: list[str], secret: str = SECRET, wait: int = 2
) -> str:
    port = srv.acct_port if kind in ("acct",) else srv.auth_port
    if kind == "status-acct":
        kind, port = "status", srv.acct_port
    result = subprocess.run(
        [radclient, "-x", "-r", "1", "-t", str(wait), f"{srv.host}:{port}", kind, secret],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


def audit_results(srv: Radiusd, user: str, expected: int) -> list[str]:
    """The user's audit results, once `expected` rows are written (the audit is written in batches)."""
    engine = create_engine(f"sqlite:///{srv.config.parent / 'data' / 'radiusd.db'}")
    deadline = time.monotonic() + 10
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("select result from audit_events where user = :u order by id"), {"u": user}
                ).all()
            if len(rows) >= expected or time.monotonic() > deadline:
                return [r[0] for r in rows]
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_pap_with_message_authenticator_accepts_right_and_rejects_wrong(
    radclient: str, server: Radiusd
) -> None:
    code = pyotp.TOTP(TOTP).now()
    ok = radclient_send(
        radclient,
        server,
        "auth",
        ["User-Name = alice", f'User-Password = "{PASSWORD},{code}"', "Message-Authenticator = 0x00"],
    )
    assert "Received Access-Accept" in ok
    bad = radclient_send(
        radclient,
        server,
        "auth",
        ["User-Name = bob", f'User-Password = "{PASSWORD},000000"', "Message-Authenticator = 0x00"],
    )
    assert "Received Access-Reject" in bad


def test_no_message_authenticator_or_wrong_secret_gets_no_answer_and_is_counted(
    radclient: str, server: Radiusd
) -> None:
    before = server.counters()
    unsigned = radclient_send(
        radclient, server, "auth", ["User-Name = bob", f'User-Password = "{PASSWORD}"'], wait=1
    )
    wrong = radclient_send(
        radclient,
        server,
        "auth",
        ["User-Name = bob", f'User-Password = "{PASSWORD}"', "Message-Authenticator = 0x00"],
        secret="wrong-secret",
        wait=1,
    )
    assert "No reply" in unsigned and "Received" not in unsigned
    assert "No reply" in wrong and "Received" not in wrong
    after = server.counters()
    # radclient sends each request twice (-r 1 retry); every copy is dropped and counted.
    missing = after.get("drop_missing_message_authenticator", 0) - before.get(
        "drop_missing_message_authenticator", 0
    )
    bad = after.get("drop_bad_authenticator", 0) - before.get("drop_bad_authenticator", 0)
    assert missing >= 1 and bad >= 1
    assert "no Message-Authenticator, which this client must send" in server.log()


def test_unknown_source_is_dropped_counted_and_logged(server: Radiusd) -> None:
    before = server.counters().get("drop_unknown_client", 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 0))
        raw = encode(access_request(SECRET, "alice", PASSWORD))
        assert exchange(server.host, server.auth_port, raw, 0.5, sock) is None
        assert exchange(server.host, server.auth_port, raw, 0.5, sock) is None
    assert server.counters().get("drop_unknown_client", 0) == before + 2
    assert server.log().count("dropped 127.0.0.2: packet from an address that is no configured client") == 1


def test_retransmission_gets_identical_reply_and_consumes_the_code_once(server: Radiusd) -> None:
    code = pyotp.TOTP(TOTP).now()
    raw = encode(access_request(SECRET, "carol", f"{PASSWORD},{code}"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        first = exchange(server.host, server.auth_port, raw, 5.0, sock)
        second = exchange(server.host, server.auth_port, raw, 5.0, sock)
    assert first is not None and first[0] == 2  # Access-Accept
    assert second == first
    assert audit_results(server, "carol", 1) == ["accept"]
    # The same code in a new request is a replay: rejected, so it was consumed exactly once.
    replay = exchange(
        server.host, server.auth_port, encode(access_request(SECRET, "carol", f"{PASSWORD},{code}")), 5.0
    )
    assert replay is not None and replay[0] == 3
    assert audit_results(server, "carol", 2) == ["accept", "reject"]


def test_proxy_state_comes_back_in_order(radclient: str, server: Radiusd) -> None:
    out = radclient_send(
        radclient,
        server,
        "auth",
        [
            "User-Name = alice",
            'User-Password = "wrong"',
            "Message-Authenticator = 0x00",
            "Proxy-State = 0x0201",
            "Proxy-State = 0x01ff",
            "Proxy-State = 0x7a",
        ],
    )
    received = out.split("Received", 1)[1]
    assert re.findall(r"Proxy-State = (0x[0-9a-f]+)", received) == ["0x0201", "0x01ff", "0x7a"]


def test_status_server_on_both_ports_and_accounting(radclient: str, server: Radiusd) -> None:
    auth = radclient_send(radclient, server, "status", ["Message-Authenticator = 0x00"])
    acct = radclient_send(radclient, server, "status-acct", ["Message-Authenticator = 0x00"])
    assert "Received Access-Accept" in auth
    assert "Received Accounting-Response" in acct
    out = radclient_send(
        radclient,
        server,
        "acct",
        [
            "User-Name = alice",
            "Acct-Status-Type = Start",
            'Acct-Session-Id = "sess-radclient-1"',
            "Framed-IP-Address = 10.8.0.9",
        ],
    )
    assert "Received Accounting-Response" in out
    engine = create_engine(f"sqlite:///{Path(server.config).parent / 'data' / 'radiusd.db'}")
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "select user, status_type, client, attributes from accounting_records where session_id = :s"
            ),
            {"s": "sess-radclient-1"},
        ).one()
    engine.dispose()
    assert row[:3] == ("alice", "Start", "nas1")
    assert "10.8.0.9" in row[3]
