"""The `radius:` section: listeners and clients."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from radiusd.config.types import Address, ConfigPath, Network, Secret, Section


class RadiusClientConfig(Section):
    name: str = Field(min_length=1)
    address: Network
    secret: Secret
    require_message_authenticator: bool = True
    """Drop Access-Requests without a valid Message-Authenticator (BlastRADIUS, CVE-2024-3596)."""
    limit_proxy_state: bool = False
    """With require_message_authenticator off: still drop requests carrying Proxy-State without one."""
    reply_message_authenticator: bool = True
    """Put Message-Authenticator first in every reply (turn off for gateways that drop such replies)."""
    source_attribute: Literal["Calling-Station-Id", "Framed-IP-Address"] | None = None
    """Trust this attribute as the user's source address (only for clients that report it honestly)."""

    @model_validator(mode="after")
    def _blastradius(self) -> RadiusClientConfig:
        if not self.require_message_authenticator and not self.limit_proxy_state:
            raise ValueError(
                "require_message_authenticator: no is allowed only together with limit_proxy_state: yes"
            )
        return self


class RadiusConfig(Section):
    addresses: list[Address] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    auth_port: int = Field(default=1812, ge=0, le=65535)
    acct_port: int = Field(default=1813, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    dictionary: ConfigPath | None = None
    """Top dictionary file; by default the one shipped in dictionaries/."""
    duplicate_cache_seconds: float = Field(default=10.0, ge=5.0, le=30.0)
    request_timeout: float = Field(default=30.0, gt=0, le=300)
    """Seconds one request may take (engine, store) before it is dropped unanswered; also how long
    SIGTERM waits for requests in flight."""
    clients: list[RadiusClientConfig] = Field(default_factory=list)
