"""Acceptance: pamtester through pam_radiusd.so in front of a running radiusd: separate prompts,
and use_first_pass after pam_unix."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest
from pam_peers import helper_config, local_user, pam_module_path, pam_service
from radius.radius_server import SECRET, running_radiusd
from test_pam_module import pamtester

pytestmark = [pytest.mark.debian, pytest.mark.root]
__all__ = ["pam_module_path"]  # the session fixture

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CODE_PROMPT = "Enter your one-time code: "
WRONG_THRICE = [(CODE_PROMPT, "000000")] * 3  # radiusd asks again until the challenge's attempts run out


def test_separate_prompts(pam_module_path: Path, tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    with running_radiusd(tmp_path / "r", users={"carol": "pw-carol"}, totp={"carol": SEED}) as radiusd:
        config = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
        with pam_service([f"auth required {pam_module_path} config={config} prompt=separate"]) as service:
            ok, out = pamtester(service, "carol", [("Password: ", "pw-carol"), *WRONG_THRICE])
            assert not ok, out
            code = pyotp.TOTP(SEED).now()
            ok, out = pamtester(service, "carol", [("Password: ", "pw-carol"), (CODE_PROMPT, code)])
            assert ok, out


def test_use_first_pass_after_pam_unix(pam_module_path: Path, tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    with (
        local_user("same-pw") as user,
        running_radiusd(tmp_path / "r", users={user: "same-pw"}, totp={user: SEED}) as radiusd,
    ):
        config = helper_config(tmp_path / "pam.yaml", [(radiusd.auth_port, SECRET)])
        lines = [
            "auth requisite pam_unix.so",
            f"auth required {pam_module_path} config={config} use_first_pass",
        ]
        with pam_service(lines) as service:
            ok, out = pamtester(service, user, [("assword: ", "same-pw"), *WRONG_THRICE])
            assert not ok, out
            ok, out = pamtester(
                service, user, [("assword: ", "same-pw"), (CODE_PROMPT, pyotp.TOTP(SEED).now())]
            )
            assert ok, out
            assert out.count("assword: ") == 1  # radiusd got pam_unix's password without asking again
