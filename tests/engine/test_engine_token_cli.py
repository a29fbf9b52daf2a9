"""`token add USER yubikey|backup` and `token resync`, each checked by a login through the engine."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pyotp
from click.testing import CliRunner, Result

from radiusd.cli.main import cli

RFC4226_SEED = base64.b32encode(b"12345678901234567890").decode()


def radiusd(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["-c", str(config), *args], input=input, catch_exceptions=False)


def ok(config: Path, *args: str, input: str | None = None) -> str:
    result = radiusd(config, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def user(config: Path, name: str) -> None:
    ok(config, "init", "--quiet")
    ok(config, "user", "add", name, "--password-stdin", input="pw\n")


def test_yubikey_token_from_the_published_example(config_file: Path) -> None:
    user(config_file, "alice")
    key = (
        "--public-id",
        "dteffuje",
        "--private-id",
        "8792ebfe26cc",
        "--aes-key",
        "ecde18dbe76fbd0c33330f1c354871db",
    )
    ok(config_file, "token", "add", "alice", "yubikey", *key)
    otp = "dteffujehknhfjbrjnlnldnhcujvddbikngjrtgh"
    assert "yubikey code ok" in ok(config_file, "check", "alice", input=f"pw{otp}\n")
    replay = radiusd(config_file, "check", "alice", input=f"pw{otp}\n")
    assert replay.exit_code == 1 and "already used" in replay.stdout


def test_yubikey_token_refuses_bad_material(config_file: Path) -> None:
    user(config_file, "alice")
    for args in (
        ("--public-id", "dteffuje", "--private-id", "8792ebfe26cc"),
        ("--public-id", "not-modhex", "--private-id", "8792ebfe26cc", "--aes-key", "00" * 16),
        ("--public-id", "dteffuje", "--private-id", "8792eb", "--aes-key", "00" * 16),
        ("--public-id", "dteffuje", "--private-id", "8792ebfe26cc", "--aes-key", "zz" * 16),
    ):
        result = radiusd(config_file, "token", "add", "alice", "yubikey", *args)
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.output


def test_backup_codes_are_printed_once_and_work_once(config_file: Path) -> None:
    user(config_file, "bob")
    out = ok(config_file, "token", "add", "bob", "backup")
    codes = re.findall(r"^  ([a-z0-9]{5}-[a-z0-9]{5})$", out, re.M)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert codes[0] not in ok(config_file, "token", "list", "bob", "--json")
    assert "backup code ok" in ok(config_file, "check", "bob", input=f"pw,{codes[0]}\n")
    assert radiusd(config_file, "check", "bob", input=f"pw,{codes[0]}\n").exit_code == 1
    assert "backup code ok" in ok(config_file, "check", "bob", input=f"pw{codes[9].replace('-', '')}\n")


def test_hotp_resync_with_two_consecutive_codes(config_file: Path) -> None:
    user(config_file, "carol")
    ok(config_file, "token", "add", "carol", "hotp", "--secret", RFC4226_SEED)
    hotp = pyotp.HOTP(RFC4226_SEED)
    far = radiusd(config_file, "check", "carol", input=f"pw{hotp.at(50)}\n")
    assert far.exit_code == 1  # beyond the look-ahead window
    wrong = radiusd(config_file, "token", "resync", "carol", hotp.at(50), hotp.at(52))
    assert wrong.exit_code == 1 and len(wrong.stderr.splitlines()) == 1
    assert "re-synchronised" in ok(config_file, "token", "resync", "carol", hotp.at(50), hotp.at(51))
    assert "hotp code ok" in ok(config_file, "check", "carol", input=f"pw{hotp.at(52)}\n")
    assert radiusd(config_file, "check", "carol", input=f"pw{hotp.at(51)}\n").exit_code == 1
