"""The `ldap_proxy:` section: the LDAP bind proxy in front of the directory (Jira, Confluence)."""

from __future__ import annotations

from pydantic import Field, model_validator

from radiusd.config.types import Address, ExistingFile, Section


class LdapProxyConfig(Section):
    enabled: bool = False
    address: Address = "127.0.0.1"
    port: int | None = Field(default=3389, ge=0, le=65535)
    """ldap:// (StartTLS offered when a certificate is set); None to not listen."""
    ldaps_port: int | None = Field(default=None, ge=0, le=65535)
    """ldaps://; needs tls_cert and tls_key."""
    tls_cert: ExistingFile | None = None
    tls_key: ExistingFile | None = None
    application: str = Field(default="ldap-proxy", min_length=1)
    """The client name the engine and the rules see (rules[].match.clients)."""
    service_accounts: list[str] = Field(default_factory=list)
    """DNs whose binds are forwarded to the directory unchanged (the application's own account)."""
    allow_anonymous: bool = False
    """Forward anonymous binds (empty DN and password); refused by default."""
    bind_cache_ttl: float = Field(default=30.0, ge=0, description="seconds; 0 turns the cache off")
    """A user bind that succeeded is answered again from memory within this time, for the same client
    address, DN and typed secret: applications that bind twice per login do not replay the code."""
    timeout: float = Field(default=10.0, gt=0)
    """Deadline for reaching the directory and for one user bind through the engine."""
    idle_timeout: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _tls(self) -> LdapProxyConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.ldaps_port is not None and self.tls_cert is None:
            raise ValueError("ldaps_port needs tls_cert and tls_key")
        if self.enabled and self.port is None and self.ldaps_port is None:
            raise ValueError("enabled, but neither port nor ldaps_port is set")
        return self
