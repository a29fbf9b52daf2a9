"""`radiusd check USER`: the decision and its internal reason, following challenges."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pyotp
from click.testing import CliRunner, Result

from radiusd.cli.main import cli

SECRET = base64.b32encode(b"0123456789abcdefghij").decode()


def radiusd(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config), *args], input=input, catch_exceptions=False)


def enrolled(config: Path) -> pyotp.TOTP:
    for args, stdin in (
        (("init", "--quiet"), None),
        (("user", "add", "alice", "--password-stdin"), "pw\n"),
        (("token", "add", "alice", "totp", "--secret", SECRET), None),
    ):
        result = radiusd(config, *args, input=stdin)
        assert result.exit_code == 0, result.output
    return pyotp.TOTP(SECRET)


def test_check_accepts_password_and_code(config_file: Path) -> None:
    totp = enrolled(config_file)
    result = radiusd(config_file, "check", "alice", "--json", input=f"pw{totp.now()}\n")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["decision"] == "accept" and out["reason"] == "totp code ok" and out["challenges"] == 0


def test_check_follows_the_challenge(config_file: Path) -> None:
    totp = enrolled(config_file)
    result = radiusd(config_file, "check", "alice", "--frontdoor", "radius", input=f"pw\n{totp.now()}\n")
    assert result.exit_code == 0, result.output
    assert "Enter your one-time code" in result.stderr
    assert "accept" in result.stdout


def test_check_shows_the_internal_reason_of_a_reject(config_file: Path) -> None:
    enrolled(config_file)
    result = radiusd(config_file, "check", "alice", "--from", "192.0.2.7", input="wrong000000\n")
    assert result.exit_code == 1
    assert "reject" in result.stdout and "wrong password" in result.stdout
    unknown = radiusd(config_file, "check", "nobody", "--json", input="pw\n")
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["reason"] == "unknown user"
