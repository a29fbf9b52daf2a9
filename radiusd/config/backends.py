"""The `backends:` section: where the first factor (the password) is checked."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from radiusd.config.types import ExistingFile, Secret, Section

BackendName = Literal["local", "pam", "ldap", "none"]


class PasswordHashingConfig(Section):
    """argon2id parameters for local passwords (RFC 9106 second recommended option by default)."""

    time_cost: int = Field(default=3, ge=1)
    memory_cost: int = Field(default=65536, ge=8, description="KiB")
    parallelism: int = Field(default=1, ge=1)


class PamBackendConfig(Section):
    service: str = "radiusd"
    timeout: float = Field(default=5.0, gt=0)


class LdapBackendConfig(Section):
    servers: list[str] = Field(min_length=1)
    """ldap:// or ldaps:// URIs, tried in order (failover)."""
    start_tls: bool = False
    ca_file: ExistingFile | None = None
    verify_certificate: bool = True
    bind_dn: str | None = None
    bind_password: Secret | None = None
    user_dn_template: str | None = None
    """For example "uid={user},ou=people,dc=example,dc=org"; without it the user is searched."""
    search_base: str | None = None
    search_filter: str = "(uid={user})"
    group_attribute: str = "memberOf"
    group_search_base: str | None = None
    group_search_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    timeout: float = Field(default=5.0, gt=0)


class BackendsConfig(Section):
    default: BackendName = "local"
    realms: dict[str, BackendName] = Field(default_factory=dict)
    """Per realm (the part after '@' in the user name): which backend checks the password."""
    local: PasswordHashingConfig = PasswordHashingConfig()
    pam: PamBackendConfig = PamBackendConfig()
    ldap: LdapBackendConfig | None = None
