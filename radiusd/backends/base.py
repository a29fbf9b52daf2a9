"""The one interface every first-factor backend implements, and the thread pool they run in."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FirstFactorResult:
    ok: bool
    reason: str
    """For the audit: "password ok", "wrong password", "ldap unreachable: …" (never the password)."""
    groups: tuple[str, ...] = ()
    """Groups the backend reports (LDAP), merged with the store's groups for the rules."""


class PasswordBackend(Protocol):
    name: str

    async def verify(self, username: str, password: str, password_hash: str | None) -> FirstFactorResult:
        """Check the password off the event loop, within the backend's timeout.

        `password_hash` is the store's hash (used only by the local backend). An unreachable or
        failing backend returns ok=False with the cause in `reason`: never an accept.
        """
        ...


class BlockingRunner:
    """A backend's own bounded thread pool with a deadline.

    Each backend has its own pool so that a hung PAM stack or LDAP server can fill only its own
    threads, never the store's or another backend's. A call past the deadline is abandoned (the
    thread finishes in the background) and the caller gets TimeoutError.
    """

    def __init__(self, name: str, timeout: float, workers: int = 8) -> None:
        self.timeout = timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._pool, fn, *args), self.timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
