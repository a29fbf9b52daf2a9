"""Acceptance (issue 7, first-login enrolment): a real sshd with pam_radiusd.so in front of a
running radiusd whose rule gives new users an enrolment grace. A user without a token logs in with
the password, is shown the QR code and the otpauth URI in the keyboard-interactive prompt, answers
with the code computed from the URI's secret, gets in, and the token is then active. The same
through pamtester, where the QR code is plain terminal text."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest
from enrolment_fixtures import totp_of
from helpers import require_program
from pam_peers import helper_config, local_user, pam_module_path, pam_service
from radius.radius_server import SECRET, Radiusd, base_config, running_radiusd
from ssh.sshd_peer import running_sshd, ssh_login

from radiusd.engine.enrolment import PROMPT
from radiusd.pamclient.qr import terminal_qr

pytestmark = [pytest.mark.debian, pytest.mark.root]
__all__ = ["pam_module_path"]  # the session fixture

PASSWORD = "first-login password"
QR_MODULES = ("▀", "▄", "█")


def mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def grace_config(tmp_path: Path) -> dict[str, Any]:
    config = base_config(tmp_path)
    config["rules"] = [{"name": "new-users", "match": {"users": ["rdt*"]}, "enrolment_grace": 86400}]
    return config


def token_list(radiusd: Radiusd, user: str) -> list[dict[str, Any]]:
    return list(json.loads(radiusd.cli("token", "list", user, "--json").stdout))


def test_ssh_first_login_shows_the_qr_code_and_enables_the_token(
    pam_module_path: Path, tmp_path: Path
) -> None:
    with (
        local_user("unix-password-unused") as user,
        running_radiusd(
            mkdir(tmp_path / "r"), users={user: PASSWORD}, config=grace_config(tmp_path / "r")
        ) as radiusd,
    ):
        assert token_list(radiusd, user) == []
        helper = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
        stack = [f"auth required {pam_module_path} config={helper} prompt=separate"]
        with running_sshd(mkdir(tmp_path / "s"), stack) as sshd:
            apps = []

            def enrol(prompt: str) -> str:
                if prompt == "Password: ":
                    return PASSWORD
                uri, app = totp_of(prompt)
                apps.append((uri, app))
                return app.now()

            first = ssh_login(sshd.port, user, enrol)
            assert first.ok, (first.prompts, sshd.log(), radiusd.log())
            assert first.prompts[0] == "Password: " and len(first.prompts) == 2
            shown = first.prompts[1]
            ((uri, app),) = apps
            assert terminal_qr(uri) in shown  # the QR code of exactly this URI, drawn
            assert uri in shown.splitlines()  # the URI on a line of its own, for typing in
            assert uri.startswith(f"otpauth://totp/radiusd:{user}?")
            assert shown.rstrip().endswith(PROMPT + ":")

            (token,) = token_list(radiusd, user)
            assert token["type"] == "totp" and token["enabled"], token

            # The token now decides: the ordinary code prompt, no QR code; a wrong code fails,
            # the next code of the enrolled app gets in.
            answers = {"Password: ": PASSWORD}
            wrong = ssh_login(sshd.port, user, lambda p: answers.get(p) or "000000")
            assert not wrong.ok and "otpauth://" not in "".join(wrong.prompts)
            assert wrong.prompts[1] == "Enter your one-time code: "
            later = app.at(time.time() + 30)  # the step after the one the enrolment used
            second = ssh_login(sshd.port, user, lambda p: answers.get(p) or later)
            assert second.ok, second.prompts
    assert "otpauth" not in radiusd.log()


def test_pamtester_first_login_shows_the_qr_code_as_text(pam_module_path: Path, tmp_path: Path) -> None:
    pamtester = require_program("pamtester")
    user = "rdtpamtester"
    with running_radiusd(
        mkdir(tmp_path / "r"), users={user: PASSWORD}, config=grace_config(tmp_path / "r")
    ) as radiusd:
        helper = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
        with pam_service([f"auth required {pam_module_path} config={helper} prompt=separate"]) as service:
            child = pexpect.spawn(
                pamtester, ["-v", service, user, "authenticate"], encoding="utf-8", timeout=20
            )
            try:
                child.expect("Password: ")
                child.sendline(PASSWORD)
                child.expect(re.escape(PROMPT) + ": ")
                shown = child.before
                _uri, app = totp_of(shown)
                assert any(block in shown for block in QR_MODULES), shown
                child.sendline(app.now())
                child.expect(pexpect.EOF)
            finally:
                child.close(force=True)
            assert child.exitstatus == 0, child.before
        (token,) = token_list(radiusd, user)
        assert token["enabled"]
