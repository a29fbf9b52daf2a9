"""The Jira front doors `radiusd serve` starts next to RADIUS: the LDAP bind proxy and the Crowd directory."""

from __future__ import annotations

from typing import Protocol

from radiusd.context import Context
from radiusd.engine.types import Authenticator


class FrontDoor(Protocol):
    async def close(self) -> None: ...


async def start_front_doors(ctx: Context, engine: Authenticator) -> list[FrontDoor]:
    """Start every enabled one (ldap_proxy, crowd) on the running loop; the caller closes them."""
    from radiusd.crowd.server import start as start_crowd
    from radiusd.ldap.proxy import start as start_ldap_proxy

    doors: list[FrontDoor] = []
    for start in (start_ldap_proxy, start_crowd):
        door = await start(ctx, engine)
        if door is not None:
            doors.append(door)
    return doors
