"""Debian's pam_radius_auth through pamtester: password, then the code asked for by the challenge."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from helpers import require_program, require_root
from radius.radius_server import SECRET, base_config, running_radiusd

PAM_MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/security",
    "/lib/x86_64-linux-gnu/security",
    "/usr/lib/security",
)


@pytest.fixture
def pam_service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A PAM service using pam_radius_auth with a config file in tmp_path; removed afterwards."""
    require_root()
    require_program("pamtester")
    if not any(Path(d, "pam_radius_auth.so").exists() for d in PAM_MODULE_DIRS):
        from helpers import unavailable

        unavailable("pam_radius_auth.so not installed (libpam-radius-auth)")
    name = f"radiusd-test-{secrets.token_hex(4)}"
    conf = tmp_path / "pam_radius_auth.conf"
    service = Path("/etc/pam.d") / name
    service.write_text(f"auth required pam_radius_auth.so conf={conf}\naccount required pam_permit.so\n")
    try:
        yield name, conf
    finally:
        service.unlink(missing_ok=True)


def test_pamtester_completes_a_challenge(tmp_path: Path, pam_service: tuple[str, Path]) -> None:
    service, conf = pam_service
    seed = pyotp.random_base32()
    config = base_config(tmp_path)
    # pam_radius_auth 2.0.0 sends no Message-Authenticator.
    config["radius"]["clients"] = [
        {
            "name": "pam",
            "address": "127.0.0.1",
            "secret": SECRET,
            "require_message_authenticator": False,
            "limit_proxy_state": True,
        }
    ]
    with running_radiusd(tmp_path, users={"dave": "pam-password"}, totp={"dave": seed}, config=config) as srv:
        conf.write_text(f"{srv.host}:{srv.auth_port} {SECRET} 5\n")
        conf.chmod(0o600)
        result = subprocess.run(
            ["pamtester", "-v", service, "dave", "authenticate"],
            input=f"pam-password\n{pyotp.TOTP(seed).now()}\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        wrong = subprocess.run(
            ["pamtester", "-v", service, "dave", "authenticate"],
            input="pam-password\n000000\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        log = srv.log()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Enter your one-time code" in output  # the prompt came from Reply-Message
    assert "successfully authenticated" in output
    assert wrong.returncode != 0
    assert "pam-password" not in log
