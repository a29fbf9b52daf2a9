"""The compiled pam_radiusd.so driven by pamtester (libpam-radius-auth's companion tool) through
real PAM service files, against scripted RADIUS servers on loopback."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from helpers import require_program, require_root
from pam_peers import (
    RADIUSD,
    FakeRadius,
    helper_config,
    local_user,
    pam_module_path,
    pam_service,
    silent_udp_port,
    totp_script,
)

pytestmark = [pytest.mark.debian, pytest.mark.root]
__all__ = ["pam_module_path"]  # the session fixture


@pytest.fixture
def radius() -> Iterator[FakeRadius]:
    require_root()
    fake = FakeRadius(b"s3cret", totp_script("pw", "123456"))
    yield fake
    fake.close()


def pamtester(service: str, user: str, dialogue: list[tuple[str, str]], *items: str) -> tuple[bool, str]:
    """Answers each prompt matching the pattern; True when pamtester reports success."""
    binary = require_program("pamtester")
    transcript = io.StringIO()
    args = ["-v", *(f"-I{item}" for item in items), service, user, "authenticate"]
    child = pexpect.spawn(binary, args, encoding="utf-8", timeout=20)
    child.logfile_read = transcript
    for pattern, answer in dialogue:
        child.expect(pattern)
        child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus == 0, transcript.getvalue()


def stack(module: Path, config: Path, *args: str, before: tuple[str, ...] = ()) -> list[str]:
    return [*before, f"auth required {module} config={config} {' '.join(args)}".rstrip()]


def test_combined_prompt(pam_module_path: Path, radius: FakeRadius, tmp_path: Path) -> None:
    config = helper_config(tmp_path / "pam.yaml", [(radius.port, "s3cret")])
    with pam_service(stack(pam_module_path, config)) as service:
        ok, out = pamtester(service, "alice", [("Password and one-time code: ", "pw123456")])
        assert ok, out
        ok, out = pamtester(service, "alice", [("Password and one-time code: ", "pw999999")])
        assert not ok and "Authentication failure" in out


def test_separate_prompts(pam_module_path: Path, radius: FakeRadius, tmp_path: Path) -> None:
    config = helper_config(tmp_path / "pam.yaml", [(radius.port, "s3cret")])
    with pam_service(stack(pam_module_path, config, "prompt=separate")) as service:
        ok, out = pamtester(
            service, "alice", [("Password: ", "pw"), ("Enter your one-time code: ", "123456")]
        )
    assert ok, out
    assert "Welcome" in out
    assert [s.password for s in radius.seen] == ["pw", "123456"]


def test_use_first_pass_after_pam_unix(pam_module_path: Path, radius: FakeRadius, tmp_path: Path) -> None:
    config = helper_config(tmp_path / "pam.yaml", [(radius.port, "s3cret")])
    with local_user("pw") as user:
        lines = stack(pam_module_path, config, "use_first_pass", before=("auth requisite pam_unix.so",))
        with pam_service(lines) as service:
            ok, out = pamtester(
                service, user, [("assword: ", "pw"), ("Enter your one-time code: ", "123456")]
            )
            assert ok, out
            assert radius.seen[0].password == "pw"  # pam_unix's password, not asked again
            ok, out = pamtester(service, user, [("assword: ", "pw"), ("Enter your one-time code: ", "1")])
            assert not ok, out


def test_failover_to_the_second_server(pam_module_path: Path, radius: FakeRadius, tmp_path: Path) -> None:
    sock, silent = silent_udp_port()
    with sock:
        config = helper_config(tmp_path / "pam.yaml", [(silent, "s3cret"), (radius.port, "s3cret")])
        with pam_service(stack(pam_module_path, config)) as service:
            ok, out = pamtester(service, "alice", [("code: ", "pw123456")])
    assert ok, out


def test_unreachable_fails_closed_except_for_listed_networks(pam_module_path: Path, tmp_path: Path) -> None:
    require_root()
    sock, silent = silent_udp_port()
    with sock, local_user("pw") as user:
        config = helper_config(
            tmp_path / "pam.yaml", [(silent, "s3cret")], allow_when_unreachable=["10.0.0.0/8"]
        )
        lines = stack(pam_module_path, config, "prompt=code", before=("auth requisite pam_unix.so",))
        with pam_service(lines) as service:
            dialogue = [("assword: ", "pw"), ("One-time code: ", "123456")]
            ok, out = pamtester(service, user, dialogue, "rhost=10.20.30.40")
            assert ok, out  # pam_unix decided alone: the second factor was waived for 10/8
            ok, out = pamtester(service, user, dialogue, "rhost=192.0.2.1")
            assert not ok and "cannot be reached" in out


def test_helper_that_cannot_run_fails_closed(
    pam_module_path: Path, radius: FakeRadius, tmp_path: Path
) -> None:
    config = helper_config(tmp_path / "pam.yaml", [(radius.port, "s3cret")])
    with pam_service(stack(pam_module_path, config, "python=/nonexistent/python")) as service:
        ok, out = pamtester(service, "alice", [])
    assert not ok, out


def test_bad_configuration_fails_closed(pam_module_path: Path, radius: FakeRadius, tmp_path: Path) -> None:
    broken = tmp_path / "pam.yaml"
    broken.write_text("servers: []\n")
    with pam_service(stack(pam_module_path, broken)) as service:
        ok, out = pamtester(service, "alice", [])
    assert not ok, out


def test_install_prints_the_host_configuration(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            ".venv/bin/radiusd",
            "pam",
            "install",
            "--print-only",
            "--service",
            "sshd-2fa",
            "--prefix",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in (
        "UsePAM yes",
        "KbdInteractiveAuthentication yes",
        "AuthenticationMethods keyboard-interactive",
    ):
        assert line in out
    assert "# /etc/pam.d/sshd-2fa" in out
    assert "auth    required    pam_radiusd.so" in out
    assert not list(tmp_path.rglob("*.so"))  # --print-only builds nothing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--python", "python3"], "--python must be an absolute path"),
        (["--python", "/nonexistent/python"], "not an executable file"),
        (["--service", "../evil"], "not a PAM service name"),
    ],
)
def test_install_refuses_bad_input(args: list[str], message: str) -> None:
    done = subprocess.run([RADIUSD, "pam", "install", *args], capture_output=True, text=True)
    assert done.returncode != 0
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
