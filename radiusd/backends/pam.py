"""The PAM backend: the host's PAM stack (python-pam), with a configurable service name."""

from __future__ import annotations

import pam

from radiusd.backends.base import BlockingRunner, FirstFactorResult
from radiusd.config.backends import PamBackendConfig


def _authenticate(service: str, username: str, password: str) -> tuple[bool, int, str]:
    # One PamAuthenticator per call: it keeps the last result on itself, so it is not thread-safe.
    handle = pam.PamAuthenticator()
    ok = handle.authenticate(username, password, service=service, resetcreds=False)
    return bool(ok), int(handle.code), str(handle.reason)


class PamBackend:
    name = "pam"

    def __init__(self, config: PamBackendConfig) -> None:
        self._service = config.service
        self._runner = BlockingRunner("backend-pam", config.timeout)

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        if not password:
            return FirstFactorResult(False, "pam: empty password refused")
        if "\x00" in username or "\x00" in password:
            return FirstFactorResult(False, "pam: NUL in user name or password refused")
        try:
            ok, code, reason = await self._runner.run(_authenticate, self._service, username, password)
        except TimeoutError:
            return FirstFactorResult(False, f"pam: service {self._service!r} timed out")
        except Exception as exc:  # a broken PAM stack is a reject with its cause, never a crash
            return FirstFactorResult(False, f"pam: {exc.__class__.__name__}")
        if ok:
            return FirstFactorResult(True, "password ok")
        return FirstFactorResult(False, f"pam: {reason} (code {code}, service {self._service!r})")

    def close(self) -> None:
        self._runner.close()
