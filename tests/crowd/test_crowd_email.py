"""Email codes through the Crowd directory (issue 8, point 3), with a real SMTP server (aiosmtpd).

Crowd cannot carry a challenge: a login with the password alone sends the code and fails (400
INVALID_USER_AUTHENTICATION); the next login with the password followed by that code succeeds
(200). A replayed or wrong code fails.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from audit.secret_scan import register_secrets
from crowd_harness import body, crowd, crowd_config, jira, login, run
from delivery_peers import SmtpServer

PASSWORD = "dana-password"


def refused(response: httpx.Response) -> bool:
    return response.status_code == 400 and body(response).findtext("reason") == "INVALID_USER_AUTHENTICATION"


def test_email_code_through_crowd(tmp_path: Path) -> None:
    with SmtpServer(tmp_path / "smtp") as smtp:
        smtp_section = {"host": "127.0.0.1", "port": smtp.port, "security": "none", "timeout": 3}
        config = crowd_config(tmp_path, delivery={"smtp": smtp_section})
        email = ("--email", "dana@example.org")
        run(config, "user", "add", "dana", "--password-stdin", *email, stdin=PASSWORD + "\n")
        run(config, "token", "add", "dana", "email")
        with crowd(config) as server, jira(server) as client:
            # The password alone: the code is sent, the login fails.
            assert refused(login(client, "dana", PASSWORD))
            assert len(smtp.wait_for(1)) == 1 and smtp.messages[0]["To"] == "dana@example.org"
            code = smtp.last_code()
            register_secrets(code, PASSWORD + code)
            wrong = f"{(int(code) + 1) % 1_000_000:06d}"
            assert refused(login(client, "dana", PASSWORD + wrong))
            # Pressing "log in" again with the password alone sends no second code.
            assert refused(login(client, "dana", PASSWORD))
            assert len(smtp.wait_for(2, timeout=1)) == 1
            # The password followed by the code: in, with the user's XML.
            accepted = login(client, "dana", PASSWORD + code)
            assert accepted.status_code == 200, accepted.text
            assert body(accepted).get("name") == "dana"
            # Replayed: refused.
            assert refused(login(client, "dana", PASSWORD + code))
            # The password alone again: a new code.
            assert refused(login(client, "dana", PASSWORD))
            assert len(smtp.wait_for(2)) == 2
            second = smtp.last_code()
            register_secrets(second)
            assert login(client, "dana", PASSWORD + second).status_code == 200
