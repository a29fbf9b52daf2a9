"""The `crowd:` section: the Crowd-compatible REST directory (Jira, Confluence)."""

from __future__ import annotations

from pydantic import Field, model_validator

from radiusd.config.types import Address, ExistingFile, Secret, Section


class CrowdConfig(Section):
    enabled: bool = False
    address: Address = "127.0.0.1"
    port: int = Field(default=8095, ge=0, le=65535)
    tls_cert: ExistingFile | None = None
    """With tls_cert and tls_key the directory speaks HTTPS only."""
    tls_key: ExistingFile | None = None
    application: str = Field(default="jira", min_length=1)
    """The application name Jira sends (Basic auth user); also the client the rules see."""
    password: Secret | None = None
    """The application password Jira sends (Basic auth password)."""
    timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> CrowdConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.enabled and self.password is None:
            raise ValueError("enabled, but no application password is set")
        return self
