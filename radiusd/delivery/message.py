"""What a sender is given and what it raises; the retry loop every sender shares."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CodeMessage:
    code: str
    validity: float
    """Seconds the code stays valid."""
    service: str
    """The requesting service as the user knows it (the RADIUS client or application name)."""
    user: str
    expires_at: float

    def fields(self) -> dict[str, object]:
        """The values the message templates may use."""
        return {
            "code": self.code,
            "minutes": max(1, round(self.validity / 60)),
            "expires": time.strftime("%H:%M UTC", time.gmtime(self.expires_at)),
            "service": self.service,
            "user": self.user,
        }


class DeliveryError(Exception):
    """A code could not be sent. str() is the cause for the audit: never the code or a secret."""

    def __init__(self, cause: str, transient: bool = True) -> None:
        super().__init__(cause)
        self.transient = transient
        """Worth another attempt (timeouts, refused connections, 4xx SMTP, 5xx HTTP)."""


class Sender(Protocol):
    channel: str
    """"email" or "sms", for the factor and the audit."""

    async def send(self, to: str, message: CodeMessage) -> None: ...


BACKOFF = 0.2
"""Seconds before the first retry; doubled for each further one."""


async def with_retries(
    where: str, attempt: Callable[[], Awaitable[None]], timeout: float, retries: int
) -> None:
    """Run `attempt` with a timeout each, at most 1 + retries times while failures are transient.
    `where` names the peer in the cause ("smtp mail.example.org:587")."""
    for n in range(retries + 1):
        try:
            async with asyncio.timeout(timeout):
                await attempt()
            return
        except TimeoutError:
            error = DeliveryError(f"{where}: no answer within {timeout:g} s")
        except DeliveryError as exc:
            error = exc
        if not error.transient or n == retries:
            if retries and n:
                raise DeliveryError(f"{error} (after {n + 1} attempts)", error.transient) from None
            raise error
        await asyncio.sleep(BACKOFF * 2**n)
