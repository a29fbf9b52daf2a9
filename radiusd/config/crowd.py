"""The `crowd:` section: the Crowd-compatible REST directory (Jira, Confluence)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from radiusd.config.types import Address, ExistingFile, Secret, Section


class CrowdLdapConfig(Section):
    """Where the users and groups are read when `directory: ldap` (through backends.ldap's
    servers, TLS settings and service account)."""

    user_base: str | None = None
    """Where users are searched; backends.ldap.search_base by default."""
    user_filter: str = "(objectClass=inetOrgPerson)"
    group_base: str | None = None
    """Where groups are searched; backends.ldap.group_search_base by default; no groups if neither."""
    group_filter: str = "(|(objectClass=groupOfUniqueNames)(objectClass=groupOfNames))"
    page_size: int = Field(default=500, ge=1, le=100000)
    """Entries per page of the paged searches (1.2.840.113556.1.4.319)."""
    cache_seconds: float = Field(default=60.0, ge=0)
    """One directory read answers every request of a synchronisation within this time; 0: none."""
    timeout: float = Field(default=60.0, gt=0)
    """Deadline for reading the whole directory."""


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
    directory: Literal["store", "ldap"] = "store"
    """Where the users and groups Jira synchronises come from: radiusd's store, or the directory
    configured in backends.ldap (read as `ldap:` below says)."""
    ldap: CrowdLdapConfig = CrowdLdapConfig()

    @model_validator(mode="after")
    def _check(self) -> CrowdConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.enabled and self.password is None:
            raise ValueError("enabled, but no application password is set")
        return self
