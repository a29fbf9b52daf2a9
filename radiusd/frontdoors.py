"""The Jira front doors `radiusd serve` starts next to RADIUS: the LDAP bind proxy and the Crowd directory.

They call the engine through a `CurrentEngine`, which a reload (SIGHUP) points at the new engine:
logins that already started finish on the old one, which is closed only when they are done.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from radiusd.context import Context
from radiusd.engine.types import Authenticator, AuthRequest, Decision


class FrontDoor(Protocol):
    async def close(self) -> None: ...


class CurrentEngine:
    """An Authenticator that always asks the engine of the running configuration."""

    def __init__(self, engine: Authenticator) -> None:
        self.engine = engine
        self._busy: dict[int, int] = {}
        self._idle = asyncio.Condition()

    async def authenticate(self, request: AuthRequest) -> Decision:
        engine = self.engine
        key = id(engine)
        self._busy[key] = self._busy.get(key, 0) + 1
        try:
            return await engine.authenticate(request)
        finally:
            self._busy[key] -= 1
            if not self._busy[key]:
                del self._busy[key]
                async with self._idle:
                    self._idle.notify_all()

    def swap(self, engine: Authenticator) -> Authenticator:
        """Send new logins to `engine`; returns the one they went to until now."""
        old, self.engine = self.engine, engine
        return old

    async def finished(self, engine: Authenticator) -> None:
        """Return once no login is running on `engine` any more."""
        async with self._idle:
            await self._idle.wait_for(lambda: id(engine) not in self._busy)


async def start_front_doors(ctx: Context, engine: Authenticator) -> list[FrontDoor]:
    """Start every enabled one (ldap_proxy, crowd) on the running loop; the caller closes them."""
    from radiusd.crowd.server import start as start_crowd
    from radiusd.ldap.proxy import start as start_ldap_proxy

    doors: list[FrontDoor] = []
    try:
        for start in (start_ldap_proxy, start_crowd):
            door = await start(ctx, engine)
            if door is not None:
                doors.append(door)
    except BaseException:
        for door in doors:
            await door.close()
        raise
    return doors
