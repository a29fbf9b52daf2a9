"""The engine behind a running `radiusd serve`, driven by FreeRADIUS's radclient over loopback.

Password+TOTP, a reused code, password alone → Access-Challenge whose State completes the login,
HOTP ahead by 5, a backup code once, the RFC 4226 and RFC 6238 vectors with tokens imported by
`token add --secret` (the RFC 6238 times set with Debian's libfaketime, not a clock override in
the server), and two servers sharing PostgreSQL accepting one code once out of 50 tries.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from helpers import require_program
from oath_vectors import RFC4226_CODES, RFC4226_SEED, RFC6238_SEEDS, RFC6238_VECTORS
from radius.radius_client import access_request, encode
from radius.radius_server import Radiusd, base_config, running_radiusd

from radiusd.cli.main import cli

pytestmark = [pytest.mark.debian]

PASSWORD = "correct horse"
TOTP_SECRET = pyotp.random_base32()
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# Python keeps time as int64 nanoseconds, so no Python process can live at 20000000000 (year 2603):
# that vector passes through the factor module (tests/factors), the others through the server.
PYTHON_TIME_LIMIT = 2**63 // 10**9


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode()


def admin(srv: Radiusd, *args: str, input: str | None = None) -> str:
    """`radiusd -c CONFIG ARGS…` run in this process (the same commands, without a Python start-up
    per call); the running server sees the store change on its next request."""
    result = CliRunner().invoke(cli, ["-c", str(srv.config), *args], input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def enrol(srv: Radiusd, user: str, *token: str) -> str:
    admin(srv, "user", "add", user, "--password-stdin", input=PASSWORD + "\n")
    return admin(srv, "token", "add", user, *token)


@pytest.fixture(scope="module")
def radclient() -> str:
    return require_program("radclient")


def send(radclient: str, srv: Radiusd, user: str, password: str, state: str | None = None) -> str:
    lines = [f"User-Name = {user}", f'User-Password = "{password}"', "Message-Authenticator = 0x00"]
    if state:
        lines.append(f"State = {state}")
    result = subprocess.run(
        [radclient, "-x", "-r", "1", "-t", "5", f"{srv.host}:{srv.auth_port}", "auth", srv.secret],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout + result.stderr


def accepted(output: str) -> bool:
    return "Received Access-Accept" in output


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radiusd]:
    tmp = tmp_path_factory.mktemp("engine-radius")
    with running_radiusd(tmp) as srv:
        for user in ("alice", "dave"):
            enrol(srv, user, "totp", "--secret", TOTP_SECRET)
        for user in ("bob", "erin"):
            enrol(srv, user, "hotp", "--secret", b32(RFC4226_SEED))
        yield srv


def test_password_and_totp_accepted_and_the_code_not_twice(radclient: str, server: Radiusd) -> None:
    code = pyotp.TOTP(TOTP_SECRET).now()
    assert accepted(send(radclient, server, "alice", PASSWORD + code))
    reused = send(radclient, server, "alice", PASSWORD + code)
    assert "Received Access-Reject" in reused


def test_password_alone_gets_a_challenge_answered_with_its_state(radclient: str, server: Radiusd) -> None:
    challenge = send(radclient, server, "dave", PASSWORD)
    assert "Received Access-Challenge" in challenge, challenge
    assert "Enter your one-time code" in challenge
    state = re.search(r"State = (0x[0-9a-fA-F]+)", challenge)
    assert state is not None
    answer = send(radclient, server, "dave", pyotp.TOTP(TOTP_SECRET).now(), state=state.group(1))
    assert accepted(answer), answer


def test_hotp_ahead_by_five_accepted(radclient: str, server: Radiusd) -> None:
    assert accepted(send(radclient, server, "bob", PASSWORD + RFC4226_CODES[5]))
    assert not accepted(send(radclient, server, "bob", PASSWORD + RFC4226_CODES[4]))


def test_backup_code_accepted_once(radclient: str, server: Radiusd) -> None:
    out = enrol(server, "carol", "backup")
    codes = re.findall(r"^  ([a-z0-9]{5}-[a-z0-9]{5})$", out, re.M)
    assert len(codes) == 10
    assert accepted(send(radclient, server, "carol", f"{PASSWORD},{codes[2]}"))
    assert "Received Access-Reject" in send(radclient, server, "carol", f"{PASSWORD},{codes[2]}")


def test_rfc4226_vectors_through_the_server(radclient: str, server: Radiusd) -> None:
    for code in RFC4226_CODES:
        assert accepted(send(radclient, server, "erin", PASSWORD + code)), code


def test_rfc6238_vectors_through_the_server_under_faketime(radclient: str, tmp_path: Path) -> None:
    require_program("faketime")
    if not LIBFAKETIME.exists():
        pytest.fail(f"{LIBFAKETIME} missing although faketime is installed")
    clock = tmp_path / "faketime"
    set_clock(clock, RFC6238_VECTORS[0][0])
    env = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock),
        "FAKETIME_NO_CACHE": "1",
        "TZ": "UTC",
    }
    with running_radiusd(tmp_path, env=env) as srv:
        for algorithm, seed in RFC6238_SEEDS.items():
            enrol(
                srv,
                f"rfc-{algorithm}",
                "totp",
                "--secret",
                b32(seed),
                "--digits",
                "8",
                "--algorithm",
                algorithm,
            )
        reachable = [(at, codes) for at, codes in RFC6238_VECTORS if at < PYTHON_TIME_LIMIT]
        assert len(reachable) == 5
        for at, codes in reachable:  # ascending: each step is later than the last accepted
            set_clock(clock, at)
            for algorithm, code in codes.items():
                out = send(radclient, srv, f"rfc-{algorithm}", PASSWORD + code)
                assert accepted(out), (at, algorithm, out)


def set_clock(clock: Path, epoch: int) -> None:
    """Replace the clock file in one step: libfaketime rereads it on every call (FAKETIME_NO_CACHE),
    and a half-written file would send the server's clocks, monotonic included, to the real date
    and back mid-request."""
    staged = clock.with_name(clock.name + ".new")
    staged.write_text(faketime_spec(epoch))
    os.replace(staged, clock)


def faketime_spec(epoch: int) -> str:
    """libfaketime's "start at" form: the server's clock runs on from this UTC time."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("@%Y-%m-%d %H:%M:%S")


def test_two_servers_sharing_postgresql_accept_one_code_once(tmp_path: Path, pg_url: str) -> None:
    first_dir, second_dir = tmp_path / "one", tmp_path / "two"
    first_dir.mkdir()
    second_dir.mkdir()
    second_config = base_config(second_dir, pg_url)
    second_config["key_file"] = str(first_dir / "data" / "keys.json")  # one key ring, two nodes
    with (
        running_radiusd(first_dir, db_url=pg_url) as one,
        running_radiusd(second_dir, config=second_config) as two,
    ):
        enrol(one, "alice", "totp", "--secret", TOTP_SECRET)
        if time.time() % 30 > 25:  # all 50 within the code's window
            time.sleep(30 - time.time() % 30)
        code = pyotp.TOTP(TOTP_SECRET).now()
        replies = burst([one, two], "alice", PASSWORD + code, 50)
    assert len(replies) == 50, "every request is answered"
    assert replies.count(2) == 1  # Access-Accept
    assert replies.count(3) == 49  # Access-Reject


def burst(servers: list[Radiusd], user: str, password: str, count: int) -> list[int]:
    """Send `count` Access-Requests at once, alternating between servers; the reply codes."""
    sockets = []
    try:
        for i in range(count):
            srv = servers[i % len(servers)]
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.settimeout(10)
            sock.sendto(encode(access_request(srv.secret, user, password)), (srv.host, srv.auth_port))
            sockets.append(sock)
        replies = []
        for sock in sockets:
            with contextlib.suppress(TimeoutError):
                replies.append(sock.recv(4096)[0])
        return replies
    finally:
        for sock in sockets:
            sock.close()
