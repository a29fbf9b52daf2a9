"""A real OpenSSH sshd on a loopback port with its own configuration and PAM service, and a
keyboard-interactive client (paramiko) that answers its prompts.

OpenSSH names its PAM service after argv[0]'s basename, so the test runs sshd through a symlink
named like the temporary /etc/pam.d/ file; both are removed when the block ends.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
from helpers import free_port, require_program, require_root
from pam_peers import pam_service

Answerer = Callable[[str], str]
"""Given one prompt's text, the answer to type."""


@dataclass
class Sshd:
    port: int
    service: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def running_sshd(tmp_path: Path, auth_lines: list[str]) -> Iterator[Sshd]:
    """sshd with `auth_lines` as its PAM auth stack (account and session always permit)."""
    require_root()
    sshd = require_program("sshd")
    keygen = require_program("ssh-keygen")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
    host_key = tmp_path / "host_ed25519"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    port = free_port(socket.SOCK_STREAM)
    lines = [*auth_lines, "account required pam_permit.so", "session required pam_permit.so"]
    with pam_service(lines, prefix="sshd-radiusd-test") as service:
        link = tmp_path / service
        link.symlink_to(sshd)
        config = tmp_path / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {tmp_path / 'sshd.pid'}\n"
            "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n"
            "PubkeyAuthentication no\nAuthenticationMethods keyboard-interactive\n"
            "StrictModes no\nLogLevel DEBUG1\nMaxAuthTries 3\nLoginGraceTime 60\n"
        )
        log_path = tmp_path / "sshd.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen([str(link), "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        try:
            _wait_for_port(port, process, log_path)
            yield Sshd(port, service, log_path)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sshd exited ({process.returncode}):\n{log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"sshd did not listen:\n{log_path.read_text()}")


@dataclass
class Dialogue:
    """What the keyboard-interactive client was asked, and whether the login succeeded."""

    ok: bool
    prompts: list[str]


def ssh_login(port: int, user: str, answer: Answerer) -> Dialogue:
    prompts: list[str] = []

    def handler(title: str, instructions: str, fields: list[tuple[str, bool]]) -> list[str]:
        answers = []
        for text, _echo in fields:
            shown = "\n".join(part for part in (title, instructions, text) if part)
            prompts.append(shown)
            answers.append(answer(shown))
        return answers

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=30)
        try:
            transport.auth_interactive(user, handler)
        except paramiko.AuthenticationException:
            return Dialogue(False, prompts)
        return Dialogue(transport.is_authenticated(), prompts)
    finally:
        transport.close()
