"""The `backends:` section: where the first factor (the password) is checked."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

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
    """{user} is replaced by the escaped user name."""
    user_attribute: str = "uid"
    """The attribute holding the user name (to map a DN back to a user, and to list users)."""
    group_attribute: str | None = "memberOf"
    """An attribute of the user's entry listing group DNs; None to not read it."""
    group_search_base: str | None = None
    """Where to search groups naming the user as a member; None to not search."""
    group_search_filter: str = "(|(member={dn})(uniqueMember={dn}))"
    """{dn} is the user's escaped DN, {user} the escaped user name."""
    group_name_attribute: str = "cn"
    timeout: float = Field(default=5.0, gt=0)
    """Deadline for one whole check (all servers tried, binds and searches)."""
    connect_timeout: float = Field(default=2.0, gt=0)
    """Per server: how long to wait for a connection before trying the next URI."""

    @field_validator("servers")
    @classmethod
    def _uris(cls, servers: list[str]) -> list[str]:
        for uri in servers:
            if not uri.lower().startswith(("ldap://", "ldaps://")):
                raise ValueError(f"not an ldap:// or ldaps:// URI: {uri!r}")
        return servers

    @model_validator(mode="after")
    def _how_to_find_users(self) -> LdapBackendConfig:
        if self.user_dn_template is None and self.search_base is None:
            raise ValueError("set user_dn_template, or search_base (with bind_dn for a service account)")
        if self.user_dn_template is not None and "{user}" not in self.user_dn_template:
            raise ValueError("user_dn_template must contain {user}")
        if (self.bind_dn is None) != (self.bind_password is None):
            raise ValueError("bind_dn and bind_password go together")
        return self


class BackendsConfig(Section):
    default: BackendName = "local"
    realms: dict[str, BackendName] = Field(default_factory=dict)
    """Per realm (the part after '@' in the user name): which backend checks the password."""
    local: PasswordHashingConfig = PasswordHashingConfig()
    pam: PamBackendConfig = PamBackendConfig()
    ldap: LdapBackendConfig | None = None
