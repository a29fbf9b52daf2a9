"""The PAM backend against the host's real PAM stack: pam_unix and a local user made by the test."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ldap_server import require_program, require_root

from radiusd.backends.pam import PamBackend
from radiusd.config.backends import PamBackendConfig

PAM_D = Path("/etc/pam.d")
pytestmark = [pytest.mark.root]


@pytest.fixture
def pam_service() -> Iterator[str]:
    """A unique /etc/pam.d service using pam_unix (nodelay: no 2 s pause after a failure)."""
    require_root()
    name = f"radiusd-test-{secrets.token_hex(4)}"
    path = PAM_D / name
    path.write_text("auth required pam_unix.so nodelay\naccount required pam_unix.so\n")
    try:
        yield name
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture
def local_user() -> Iterator[tuple[str, str]]:
    require_root()
    useradd, userdel = require_program("useradd"), require_program("userdel")
    chpasswd = require_program("chpasswd")
    name, password = f"rdt{secrets.token_hex(4)}", f"Pw-{secrets.token_urlsafe(12)}"
    subprocess.run([useradd, "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        subprocess.run([chpasswd], input=f"{name}:{password}\n".encode(), check=True)
        yield name, password
    finally:
        subprocess.run([userdel, name], check=False)


def verify(backend: PamBackend, user: str, password: str) -> tuple[bool, str]:
    result = asyncio.run(backend.verify(user, password, None))
    assert password not in result.reason or not password
    return result.ok, result.reason


def test_pam_unix_accepts_the_right_password_only(pam_service: str, local_user: tuple[str, str]) -> None:
    user, password = local_user
    backend = PamBackend(PamBackendConfig(service=pam_service, timeout=5))
    assert verify(backend, user, password) == (True, "password ok")
    ok, reason = verify(backend, user, password + "x")
    assert not ok and reason.startswith("pam: Authentication failure")
    ok, reason = verify(backend, "rdt-no-such-user", password)
    assert not ok and reason.startswith("pam: ")
    assert verify(backend, user, "") == (False, "pam: empty password refused")


def test_hung_pam_stack_is_a_reject_after_the_timeout() -> None:
    require_root()
    sleep = shutil.which("sleep") or "/bin/sleep"
    name = f"radiusd-test-{secrets.token_hex(4)}"
    path = PAM_D / name
    path.write_text(f"auth required pam_exec.so {sleep} 3\n")
    try:
        backend = PamBackend(PamBackendConfig(service=name, timeout=0.3))
        assert verify(backend, "root", "whatever") == (False, f"pam: service '{name}' timed out")
    finally:
        path.unlink(missing_ok=True)
        backend.close()
