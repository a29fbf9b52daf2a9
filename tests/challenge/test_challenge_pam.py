"""pamtester through Debian's pam_radius_auth to `radiusd serve`, with the code read from a mail
received by a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from challenge_servers import PASSWORD, challenge_server, enrol, login, state
from delivery_peers import SmtpServer
from helpers import require_program, require_root
from pyrad import packet as rp
from radius.radius_server import SECRET, Radiusd

MODULE = "/lib/x86_64-linux-gnu/security/pam_radius_auth.so"


@pytest.fixture
def pam_service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PAM service using pam_radius_auth with a server file of the test's own; removed after."""
    require_root()
    require_program("pamtester")
    if not Path(MODULE).exists():
        pytest.fail(f"{MODULE} missing (make debian-packages installs libpam-radius-auth)")
    name = f"radiusd-test-{secrets.token_hex(4)}"
    servers = tmp_path / "pam_radius_auth.conf"
    service = Path("/etc/pam.d") / name
    service.write_text(f"auth required {MODULE} conf={servers}\naccount required pam_permit.so\n")
    try:
        yield name, servers
    finally:
        service.unlink()


def pamtester(service: str, user: str, answers: list[str], smtp: SmtpServer | None = None) -> str:
    """Run pamtester, answering each prompt in turn; "CODE" is replaced by the code of the next mail."""
    proc = subprocess.Popen(
        [require_program("pamtester"), "-v", service, user, "authenticate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdin is not None
    seen = len(smtp.messages) if smtp else 0
    for answer in answers:
        if answer == "CODE":
            assert smtp is not None
            smtp.wait_for(seen + 1)
            seen += 1
            answer = smtp.last_code()
        proc.stdin.write(answer + "\n")
        proc.stdin.flush()
        time.sleep(0.3)  # pamtester reads one line per prompt; pace the answers
    out, _ = proc.communicate(timeout=30)
    return out


def configure(servers: Path, srv: Radiusd) -> None:
    servers.write_text(f"127.0.0.1:{srv.auth_port} {SECRET} 10\n")
    servers.chmod(0o600)


def test_pamtester_email_challenge(tmp_path: Path, pam_service: tuple[str, Path]) -> None:
    service, servers = pam_service
    rules = [{"name": "all", "challenge": {"validity": 2, "attempts": 3}}]
    with SmtpServer(tmp_path) as smtp, challenge_server(tmp_path, smtp=smtp, rules=rules) as srv:
        enrol(srv, "alice", "email")
        configure(servers, srv)

        ok = pamtester(service, "alice", [PASSWORD, "CODE"], smtp)
        assert "Enter the code sent to a***@example.org" in ok
        assert "successfully authenticated" in ok
        used = smtp.last_code()

        # A reused code: a new login sends a new code, the old one does not open it.
        if used != "000000":
            reused = pamtester(service, "alice", [PASSWORD, used], smtp)
            assert "successfully authenticated" not in reused

        # A fourth answer after three wrong ones is refused even when right (same State, over RADIUS).
        challenge = login(srv, "alice", PASSWORD)
        code = smtp.last_code()
        wrong = "999999" if code != "999999" else "888888"
        for _ in range(2):
            assert login(srv, "alice", wrong, state(challenge)).code == rp.AccessChallenge
        assert login(srv, "alice", wrong, state(challenge)).code == rp.AccessReject
        assert login(srv, "alice", code, state(challenge)).code == rp.AccessReject
        # The same through PAM: three wrong answers end the login.
        three_wrong = pamtester(service, "alice", [PASSWORD, "111111", "111112", "111113"], smtp)
        assert "successfully authenticated" not in three_wrong

        # An expired code (this rule gives codes 2 seconds).
        before = len(smtp.messages)
        challenge = login(srv, "alice", PASSWORD)
        smtp.wait_for(before + 1)
        late = smtp.last_code()
        time.sleep(2.2)
        assert login(srv, "alice", late, state(challenge)).code == rp.AccessReject
