"""Acceptance: two-factor SSH logins through a real sshd (Debian openssh-server) in front of a
running radiusd, with our pam_radiusd.so and with Debian's pam_radius_auth."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from delivery_peers import SmtpServer
from pam_peers import helper_config, local_user, pam_module_path, silent_udp_port
from radius.radius_server import SECRET, base_config, running_radiusd
from sshd_peer import running_sshd, ssh_login

pytestmark = [pytest.mark.debian, pytest.mark.root]
__all__ = ["pam_module_path"]  # the session fixture

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORD = "correct horse"


def mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


def code_now() -> str:
    return pyotp.TOTP(SEED).now()


def other_code() -> str:
    return f"{(int(code_now()) + 1) % 1_000_000:06d}"


def test_password_and_totp_in_one_prompt(pam_module_path: Path, tmp_path: Path) -> None:
    with (
        local_user("unix-password-unused") as user,
        running_radiusd(mkdir(tmp_path / "r"), users={user: PASSWORD}, totp={user: SEED}) as radiusd,
    ):
        config = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
        with running_sshd(
            mkdir(tmp_path / "s"), [f"auth required {pam_module_path} config={config}"]
        ) as sshd:
            wrong = ssh_login(sshd.port, user, lambda _prompt: PASSWORD + other_code())
            assert not wrong.ok
            good = ssh_login(sshd.port, user, lambda _prompt: PASSWORD + code_now())
            assert good.ok, sshd.log()
            assert good.prompts == ["Password and one-time code: "]


def test_second_server_answers_when_the_first_is_down(pam_module_path: Path, tmp_path: Path) -> None:
    down, down_port = silent_udp_port()
    with (
        down,
        local_user("unused") as user,
        running_radiusd(mkdir(tmp_path / "r"), users={user: PASSWORD}, totp={user: SEED}) as radiusd,
    ):
        servers = [(down_port, SECRET), (radiusd.auth_port, SECRET)]
        config = helper_config(tmp_path / "pam.yaml", servers)
        stack = [f"auth required {pam_module_path} config={config} prompt=separate"]
        with running_sshd(mkdir(tmp_path / "s"), stack) as sshd:
            answers = {"Password: ": PASSWORD}
            result = ssh_login(sshd.port, user, lambda p: answers.get(p) or code_now())
    assert result.ok
    assert result.prompts == ["Password: ", "Enter your one-time code: "]


def test_debian_pam_radius_auth_with_challenge(tmp_path: Path) -> None:
    """pam_radius_auth 2.0.0 sends no Message-Authenticator: its radiusd client needs
    limit_proxy_state; the password first, then radiusd's challenge for the code."""
    config = base_config(mkdir(tmp_path / "r"))
    for client in config["radius"]["clients"]:
        client.update(require_message_authenticator=False, limit_proxy_state=True)
    with (
        local_user("unused") as user,
        running_radiusd(
            mkdir(tmp_path / "r"), users={user: PASSWORD}, totp={user: SEED}, config=config
        ) as radiusd,
    ):
        conf = tmp_path / "pam_radius_auth.conf"
        conf.write_text(f"127.0.0.1:{radiusd.auth_port} {SECRET} 3\n")
        conf.chmod(0o600)
        stack = [f"auth required pam_radius_auth.so conf={conf}"]
        with running_sshd(mkdir(tmp_path / "s"), stack) as sshd:
            answers = {"Password: ": PASSWORD}
            wrong = ssh_login(sshd.port, user, lambda p: answers.get(p) or other_code())
            assert not wrong.ok
            good = ssh_login(sshd.port, user, lambda p: answers.get(p) or code_now())
    assert good.ok
    assert good.prompts[0] == "Password: "
    assert "Enter your one-time code" in good.prompts[1]


def test_email_code_challenge(pam_module_path: Path, tmp_path: Path) -> None:
    """Separate prompts: the right password makes radiusd mail a code; its challenge asks for it."""
    with SmtpServer(mkdir(tmp_path / "m")) as smtp, local_user("unused") as user:
        config = base_config(mkdir(tmp_path / "r"))
        config["delivery"] = {"smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}}
        with running_radiusd(tmp_path / "r", users={user: PASSWORD}, config=config) as radiusd:
            radiusd.cli("token", "add", user, "email", "--to", f"{user}@example.org")
            helper = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
            stack = [f"auth required {pam_module_path} config={helper} prompt=separate"]
            with running_sshd(mkdir(tmp_path / "s"), stack) as sshd:

                def answer(prompt: str) -> str:
                    if prompt == "Password: ":
                        return PASSWORD
                    smtp.wait_for(1)
                    return smtp.last_code()

                result = ssh_login(sshd.port, user, answer)
    assert result.ok, result.prompts
    assert len(result.prompts) == 2 and result.prompts[1] != "Password: "
    assert len(smtp.messages) == 1
