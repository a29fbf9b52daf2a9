"""Email and SMS challenges through a real `radiusd serve`, real radclient, a real HTTP gateway and
a real SMTP server; answers taken by another server process sharing PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import pyotp
import pytest
import yaml
from challenge_servers import PASSWORD, add_user, audit, challenge_server, enrol, login, message, state
from delivery_peers import SmsGateway, SmtpServer
from helpers import free_port, require_program
from pyrad import packet as rp
from radius.radius_server import SECRET, Radiusd, running_radiusd

CANNOT_SEND = "The code could not be sent"


def radclient(srv: Radiusd, lines: list[str]) -> str:
    result = subprocess.run(
        [
            require_program("radclient"),
            "-x",
            "-r",
            "1",
            "-t",
            "8",
            f"{srv.host}:{srv.auth_port}",
            "auth",
            SECRET,
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


def test_radclient_gets_a_challenge_and_the_sms_code_is_accepted(tmp_path: Path) -> None:
    with SmsGateway() as gateway, challenge_server(tmp_path, gateway=gateway) as srv:
        enrol(srv, "alice", "sms")
        first = radclient(
            srv, ["User-Name = alice", f'User-Password = "{PASSWORD}"', "Message-Authenticator = 0x00"]
        )
        assert "Received Access-Challenge" in first
        assert 'Reply-Message = "Enter the code sent by SMS to ***5678"' in first
        found = re.search(r"State = (0x[0-9a-f]+)", first)
        assert found, first
        (sms,) = gateway.wait_for(1)
        assert sms.form["to"] == "+4915112345678"
        code = gateway.last_code()
        answer = radclient(
            srv,
            [
                "User-Name = alice",
                f'User-Password = "{code}"',
                f"State = {found.group(1)}",
                "Message-Authenticator = 0x00",
            ],
        )
        assert "Received Access-Accept" in answer
        # The same code with the same State again: the challenge is closed.
        again = radclient(
            srv,
            [
                "User-Name = alice",
                f'User-Password = "{code}"',
                f"State = {found.group(1)}",
                "Message-Authenticator = 0x00",
            ],
        )
        assert "Received Access-Reject" in again


@pytest.mark.parametrize("failure", ["refused", "http500", "hang"])
def test_gateway_failure_is_a_reject_with_the_message_and_the_cause_audited(
    tmp_path: Path, failure: str
) -> None:
    seed = pyotp.random_base32()
    if failure == "refused":
        gateway: SmsGateway | None = None
        url = f"http://127.0.0.1:{free_port(kind=1)}"
    else:
        gateway = SmsGateway(status=500) if failure == "http500" else SmsGateway(delay=10)
        gateway.__enter__()
        url = gateway.url
    try:
        with challenge_server(tmp_path, gateway=url, totp={"carol": seed}) as srv:
            enrol(srv, "alice", "sms")
            outcome: dict[str, rp.Packet] = {}
            sending = threading.Thread(
                target=lambda: outcome.setdefault("alice", login(srv, "alice", PASSWORD))
            )
            sending.start()
            if failure == "hang":
                assert gateway is not None
                gateway.wait_for(1)  # the server is now waiting on the stuck gateway
                started = time.perf_counter()
                other = login(srv, "carol", f"{PASSWORD},{pyotp.TOTP(seed).now()}")
                elapsed = time.perf_counter() - started
                assert other.code == rp.AccessAccept
                assert elapsed < 0.1, f"another user's TOTP login took {elapsed * 1000:.0f} ms in the hang"
            sending.join(30)
            reply = outcome["alice"]
            assert reply.code == rp.AccessReject
            assert message(reply) == CANNOT_SEND
            (row,) = [r for r in audit(srv, "alice", 1) if r["result"] == "reject"]
    finally:
        if gateway is not None:
            gateway.__exit__(None, None, None)
    cause = {"refused": "cannot connect", "http500": "HTTP 500", "hang": "no answer within 2 s"}[failure]
    assert row["factor"] == "sms"
    assert row["reason"].startswith("sms: sms gateway 127.0.0.1:")
    assert cause in row["reason"]


def test_a_wrong_password_sends_no_mail_and_no_sms(tmp_path: Path) -> None:
    with (
        SmtpServer(tmp_path) as smtp,
        SmsGateway() as gateway,
        challenge_server(tmp_path, smtp=smtp, gateway=gateway) as srv,
    ):
        enrol(srv, "alice", "email")
        add_user(srv, "bob")
        enrol(srv, "bob", "sms")
        for user in ("alice", "bob"):
            assert login(srv, user, "not-the-password-42").code == rp.AccessReject
        # The right password does send, through the same servers: the silence above is meaningful.
        assert login(srv, "bob", PASSWORD).code == rp.AccessChallenge
        assert len(gateway.wait_for(1)) == 1
        assert smtp.messages == []
        assert [r["result"] for r in audit(srv, "alice", 1)] == ["reject"]


def test_attempts_expiry_reuse_and_limits(tmp_path: Path) -> None:
    rules = [
        {"name": "quick", "priority": 10, "match": {"users": ["alice"]}, "challenge": {"validity": 1}},
        {"name": "others", "priority": 20, "challenge": {"validity": 300, "attempts": 3, "code_length": 8}},
    ]
    with (
        SmtpServer(tmp_path) as smtp,
        challenge_server(tmp_path, smtp=smtp, rules=rules) as srv,
    ):
        enrol(srv, "alice", "email")
        add_user(srv, "dave")
        enrol(srv, "dave", "email")

        # Expired: alice's rule gives codes one second.
        expired = state(login(srv, "alice", PASSWORD))
        code = smtp.last_code()
        time.sleep(1.2)
        assert login(srv, "alice", code, expired).code == rp.AccessReject

        # Three wrong answers, then even the right code is refused; the code length follows the rule.
        challenge = login(srv, "dave", PASSWORD)
        assert message(challenge) == "Enter the code sent to a***@example.org"
        code = smtp.last_code()
        assert len(code) == 8
        wrong = "0" * 8 if code != "0" * 8 else "1" * 8
        assert state(login(srv, "dave", wrong, state(challenge))) == state(challenge)
        assert state(login(srv, "dave", wrong, state(challenge))) == state(challenge)
        assert login(srv, "dave", wrong, state(challenge)).code == rp.AccessReject
        assert login(srv, "dave", code, state(challenge)).code == rp.AccessReject

        # A resend while a challenge is open reuses it: no new mail, the same state.
        before = len(smtp.messages)
        first = state(login(srv, "dave", PASSWORD))
        smtp.wait_for(before + 1)
        assert state(login(srv, "dave", PASSWORD)) == first
        time.sleep(0.3)
        assert len(smtp.messages) == before + 1
        assert login(srv, "dave", smtp.last_code(), first).code == rp.AccessAccept


def test_a_challenge_from_one_process_is_answered_by_another_sharing_postgresql(
    tmp_path: Path, pg_url: str
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    with SmtpServer(tmp_path) as smtp, challenge_server(one, smtp=smtp, db_url=pg_url) as first:
        enrol(first, "alice", "email")
        # The second node: its own process and ports, the same store and the same key file.
        data = yaml.safe_load((one / "radiusd.yaml").read_text())
        data["key_file"] = str(one / "data" / "keys.json")
        data["data_dir"] = str(two / "data")
        with running_radiusd(two, config=data) as second:
            challenge = login(first, "alice", PASSWORD)
            code = smtp.last_code()
            reply = login(second, "alice", code, state(challenge))
            assert reply.code == rp.AccessAccept
            assert second.process.pid != first.process.pid
            # And the first cannot take it again.
            assert login(first, "alice", code, state(challenge)).code == rp.AccessReject
